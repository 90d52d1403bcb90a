"""What every notebook does first: resolve its parameters into settings, a recorder and loud warnings.

``setup("02_search", RUN_DIR, uri=URI, ...)`` turns the notebook's ``parameters`` cell into a
:class:`NotebookSession`: the :class:`~mmrag_lab.config.Config`, the image folder (the bundled sample by
default), a query image, and a :class:`~mmrag_lab.workbench.runtime.recorder.Recorder`. Weights are decided up front without
waiting on the network (see :mod:`mmrag_lab.workbench.runtime.weights_choice`); untrained weights are announced in red.
"""

from __future__ import annotations

import html
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from IPython.display import Markdown
from matplotlib.figure import Figure

from mmrag_lab import __version__
from mmrag_lab.config import Config
from mmrag_lab.ingestion.scan import list_images
from mmrag_lab.redaction import public_url
from mmrag_lab.reranking.llm import KEY_VAR, reranker_configured
from mmrag_lab.workbench.runtime.params import check_values
from mmrag_lab.workbench.runtime.recorder import Recorder
from mmrag_lab.workbench.runtime.sample import sample_dir, sample_metadata
from mmrag_lab.workbench.runtime.weights_choice import WeightsChoice, how_to_get_weights, pick_weights


@dataclass
class NotebookSession:
    """A notebook's resolved settings; renders as a short settings table in the notebook."""

    name: str
    config: Config
    recorder: Recorder
    images_dir: Path
    metadata: Path | None
    query_image: str | None
    weights: WeightsChoice
    _store: Any = field(default=None, repr=False)

    def record(self, key: str, **values: Any) -> None:
        """Record key values for tests and batch users (kept in memory only without a run folder)."""
        self.recorder.record(key, **values)

    def figure(self, fig: Figure, key: str) -> Figure:
        """Save a figure into the run folder (when there is one) and return it for display."""
        return self.recorder.save_figure(fig, key)

    def output_path(self, filename: str) -> Path | None:
        """A file in the run folder, or None when the notebook runs without one."""
        return self.recorder.run_dir / filename if self.recorder.run_dir else None

    def store(self):
        """The collection's store, opened once per notebook."""
        from mmrag_lab.store.vector_store import Store

        if self._store is None:
            self._store = Store.open(self.config)
        return self._store

    def metadata_types(self) -> dict[str, str]:
        """Type of each column of the sidecar metadata (int, float, bool, text, list[...]); ``{}`` without one."""
        from mmrag_lab.ingestion.sidecar import load_sidecar

        return load_sidecar(self.metadata).types if self.metadata else {}

    def metadata_columns(self) -> str:
        types = self.metadata_types()
        names = ", ".join(f"{key} ({kind})" for key, kind in sorted(types.items()))
        return f"{self.metadata} — {names}" if types else "(none)"

    def _repr_markdown_(self) -> str:
        cfg = self.config
        rows = [
            ("images", self.images_dir), ("URI", public_url(cfg.milvus_uri)), ("collection", cfg.collection),
            ("encoder", cfg.encoder), ("weights", f"{cfg.weights or 'download'} ({self.weights.reason})"),
            ("device", cfg.device), ("run folder", self.recorder.run_dir or "(none: nothing is recorded)"),
            ("metadata", self.metadata_columns()),
        ]  # fmt: skip
        table = "| setting | value |\n|---|---|\n" + "\n".join(f"| {k} | {_md(v)} |" for k, v in rows)
        return untrained_banner(self) + table


def _md(value: Any) -> str:
    return html.escape(str(value)).replace("|", "\\|")


def untrained_banner(session: NotebookSession) -> str:
    """A loud Markdown warning when the run uses untrained weights ("" otherwise)."""
    if not session.weights.untrained:
        return ""
    return (
        '<div style="background:#fde7e9;border:2px solid #b00020;padding:8px;color:#b00020">'
        "<b>UNTRAINED WEIGHTS.</b> Everything runs, but vectors, scores and rankings carry no meaning. "
        f"To get the real ones: {inline_html(how_to_get_weights(session.config.encoder))}.</div>\n\n"
    )


def inline_html(text: str) -> str:
    """Escape ``text`` for HTML, keeping its Markdown code spans as code and its URLs as links.

    Markdown inside an HTML block is not rendered, so the banner does this itself.
    """
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"(https?://[^\s()<>]+[^\s()<>.,;])", r'<a href="\1" target="_blank">\1</a>', out)


def setup(
    name: str,
    run_dir: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    metadata: str | os.PathLike | None = None,
    uri: str | None = None,
    collection: str | None = None,
    encoder: str | None = None,
    weights: str | None = None,
    device: str | None = None,
    query_image: str | os.PathLike | None = None,
    model: str | None = None,
    base_url: str | None = None,
) -> NotebookSession:
    """Resolve a notebook's parameters (None means: environment, then defaults).

    Args:
        name: The notebook's file stem, e.g. ``02_search``.
        run_dir: Folder for recorded values and figures; None records nothing.
        data_dir: Image folder; default the bundled sample (whose ``metadata.csv`` is then the default
            ``metadata``).
        metadata: Sidecar CSV or JSON Lines file.
        uri: Milvus URI; collection, encoder, weights, device, model and base_url likewise override
            :class:`Config`.
        query_image: The query picture; default the first image of the folder.
    """
    check_values({"DATA_DIR": data_dir, "METADATA": metadata, "URI": uri, "COLLECTION": collection,
                  "ENCODER": encoder, "DEVICE": device, "QUERY_IMAGE": query_image, "BASE_URL": base_url},
                 name)  # fmt: skip
    images = Path(data_dir).expanduser() if data_dir else sample_dir()
    if metadata is None and not data_dir:
        metadata = sample_metadata()
    config = Config.load(milvus_uri=uri, collection=collection, encoder=encoder, weights=weights,
                         device=device, llm_model=model, llm_base_url=base_url)  # fmt: skip
    choice = pick_weights(config.encoder, config.weights)
    config = config.with_overrides(weights=choice.weights)
    if query_image is None:
        found = list_images(images)
        query_image = found[0] if found else None
    session = NotebookSession(
        name, config, Recorder(run_dir, name), images, Path(metadata) if metadata else None,
        str(query_image) if query_image else None, choice,
    )  # fmt: skip
    session.record("setup", python=sys.executable, prefix=sys.prefix, mmrag_lab=__version__,
                   config=config.public_dict(), weights=asdict(choice), images_dir=images,
                   query_image=session.query_image)  # fmt: skip
    return session


def reranker_status(config: Config) -> Markdown:
    """Which endpoint and model the reranker will use, or how to configure one."""
    key, base_url = bool(os.environ.get(KEY_VAR)), config.llm_base_url
    if not reranker_configured(config):
        return Markdown(
            "**No reranker endpoint is configured**, so reranking keeps the retrieval order and says why. "
            "To rerank, set `OPENAI_API_KEY` (api.openai.com) or `OPENAI_BASE_URL` (any OpenAI-compatible "
            "server: vLLM, Ollama, LM Studio, Azure) in the environment *before* starting Jupyter, e.g. "
            "`export OPENAI_API_KEY=...`; in Colab, store it under Secrets and copy it into `os.environ`. "
            "Never type a key into a notebook cell or pass it as a parameter."
        )
    where = public_url(base_url) or "api.openai.com"
    return Markdown(
        f"Reranking with model **{config.llm_model}** at `{where}` (key: {'set' if key else 'none'})."
    )


def explain(reranked: Any) -> Markdown:
    """The reranker's explanation, or why the retrieval order was kept and how to change that."""
    if reranked.fallback_reason:
        return Markdown(f"**Retrieval order kept.** {reranked.fallback_reason}")
    order = ", ".join(f"#{i + 1}" for i in reranked.order)
    cached = " (reply from the cache: no new cost)" if reranked.cached else ""
    return Markdown(
        f"**New order** (retrieval ranks): {order}\n\n**Why the top pick:** {reranked.explanation}\n\n"
        f"Model {reranked.model}, {reranked.latency_s:.2f} s, {reranked.usage.total_tokens} tokens{cached}."
    )


def panorama_of(reranked: Any, results: Any, query_image: Any, session: NotebookSession | None = None):
    """The picture the LLM saw (built the same way when no request was made), saved into the run folder."""
    from mmrag_lab.reranking.panorama import build_panorama

    panorama = reranked.panorama
    if panorama is None:
        panorama = build_panorama(query_image, [h.path for h in list(results)[:9]], skip_unreadable=True)
    target = session.output_path("figures/03_rerank-panorama.jpg") if session else None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        panorama.save(str(target))
    return panorama
