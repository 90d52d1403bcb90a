"""One source of configuration: defaults, then ``MMRAG_*`` environment variables, then arguments.

Secrets (the Milvus token, the LLM API key) are read from the environment only. They are kept out of
``repr()`` and out of :meth:`Config.public_dict`, so they never reach a notebook output or a report.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmrag_lab import argtypes
from mmrag_lab.errors import ConfigError
from mmrag_lab.preset_names import preset_name
from mmrag_lab.redaction import public_url
from mmrag_lab.setting_values import coerce

DEFAULT_ENCODER = "visualized-bge-base"
DEFAULT_COLLECTION = "mmrag_images"
DEFAULT_URI = "./mmrag_lab.db"
DEFAULT_LLM_MODEL = "gpt-4o"

# field name -> environment variable
ENV_VARS: dict[str, str] = {
    "milvus_uri": "MMRAG_MILVUS_URI",
    "milvus_token": "MMRAG_MILVUS_TOKEN",
    "collection": "MMRAG_COLLECTION",
    "encoder": "MMRAG_ENCODER",
    "weights": "MMRAG_WEIGHTS",
    "text_model": "MMRAG_TEXT_MODEL",
    "device": "MMRAG_DEVICE",
    "cache_dir": "MMRAG_CACHE_DIR",
    "llm_model": "MMRAG_LLM_MODEL",
    "llm_base_url": "OPENAI_BASE_URL",
    "lite_idle_timeout": "MMRAG_LITE_IDLE_TIMEOUT",
    "compile": "MMRAG_COMPILE",
    "compile_mode": "MMRAG_COMPILE_MODE",
    "batch_size": "MMRAG_BATCH_SIZE",
    "llm_timeout": "MMRAG_LLM_TIMEOUT",
    "llm_connect_timeout": "MMRAG_LLM_CONNECT_TIMEOUT",
    "llm_max_retries": "MMRAG_LLM_MAX_RETRIES",
    "milvus_connect_timeout": "MMRAG_MILVUS_CONNECT_TIMEOUT",
    "milvus_timeout": "MMRAG_MILVUS_TIMEOUT",
    "milvus_attempts": "MMRAG_MILVUS_ATTEMPTS",
    "app_max_upload_mb": "MMRAG_APP_MAX_UPLOAD_MB",
    "app_idle_timeout": "MMRAG_APP_IDLE_TIMEOUT",
    "app_max_kernels": "MMRAG_APP_MAX_KERNELS",
}
SECRET_FIELDS = frozenset({"milvus_token"})
URL_FIELDS = ("milvus_uri", "llm_base_url")  # recorded only through redaction.public_url


def collection_for(encoder: str) -> str:
    """The collection name used when none is given: it follows the encoder, so that vector spaces never meet.

    ``visualized-bge-base`` keeps ``mmrag_images`` (collections made before there were other encoders still
    open); any other preset gets ``mmrag_images_<preset>``, e.g. ``mmrag_images_bge_vl_base``.
    """
    if encoder == DEFAULT_ENCODER:
        return DEFAULT_COLLECTION
    return f"{DEFAULT_COLLECTION}_{re.sub(r'[^0-9A-Za-z]+', '_', encoder).strip('_').lower()}"


def _default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "mmrag_lab")


@dataclass(frozen=True)
class Config:
    """Every tunable setting of the workbench.

    Attributes:
        milvus_uri: A local file path (Milvus Lite) or ``http(s)://host:port`` (server, Zilliz Cloud).
        milvus_token: Token for a Milvus server; environment only, never shown.
        collection: Collection name; empty (the default) means :func:`collection_for` the encoder.
        encoder: Encoder preset name.
        weights: Checkpoint path, ``"untrained"``, or None to resolve from the hub cache / download.
        text_model: Hub id or local folder with the text model's config and tokenizer; None = preset default.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        cache_dir: Where downloads and the reranker cache live.
        metric: Vector metric of the collection.
        index_type: Milvus index type.
        batch_size: Encoder batch size.
        llm_model: Chat model used by the reranker.
        llm_base_url: OpenAI-compatible endpoint; None = the client's default.
        llm_timeout: Seconds the reranker waits for a reply once connected (a read that times out is not
            sent again, so an endpoint that accepts and never answers costs this much, once).
        llm_connect_timeout: Seconds the reranker waits to connect.
        llm_max_retries: Retries on 429, 5xx and failed connections.
        milvus_connect_timeout: Seconds to wait for a Milvus server (or a Lite file's server) to answer.
        milvus_timeout: Seconds one Milvus call may take (a flush or a load, which wait for index builds,
            are not bounded by it).
        milvus_attempts: Times a Milvus call is sent when a retry can mend its failure.
        lite_idle_timeout: Seconds without a request after which the server of a Milvus Lite file, started
            by the first process that used it, stops by itself (0: only on ``mmrag lite stop``).
        compile: ``auto`` (ingest compiles the model on CUDA for large jobs), ``on`` or ``off``.
        compile_mode: ``torch.compile``'s mode when ingest compiles: ``reduce-overhead`` (the forward
            replayed as CUDA graphs; BENCHMARKS.md), ``default``, ``max-autotune`` or
            ``max-autotune-no-cudagraphs``.
        app_max_upload_mb: Largest query image the app accepts, in MB; a larger upload gets a message.
        app_idle_timeout: Seconds after which ``mmrag app`` culls a visitor's idle kernel (0: never).
        app_max_kernels: Most kernels (visitors) ``mmrag app`` runs at once; one more gets a "full" page.
    """

    milvus_uri: str = DEFAULT_URI
    milvus_token: str | None = field(default=None, repr=False)
    collection: str = ""
    encoder: str = DEFAULT_ENCODER
    weights: str | None = None
    text_model: str | None = None
    device: str = "auto"
    cache_dir: str = field(default_factory=_default_cache_dir)
    metric: str = "COSINE"
    index_type: str = "AUTOINDEX"
    batch_size: int = 16
    llm_model: str = DEFAULT_LLM_MODEL
    llm_base_url: str | None = None
    llm_timeout: float = 20.0
    llm_connect_timeout: float = 5.0
    llm_max_retries: int = 3
    milvus_connect_timeout: float = 10.0
    milvus_timeout: float = 120.0
    milvus_attempts: int = 3
    lite_idle_timeout: float = 900.0
    compile: str = "auto"
    compile_mode: str = "reduce-overhead"
    app_max_upload_mb: float = 10.0
    app_idle_timeout: float = 600.0
    app_max_kernels: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder", preset_name("encoder", self.encoder))  # one spelling everywhere
        if not self.collection:
            object.__setattr__(self, "collection", collection_for(self.encoder))

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        spelled: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Config:
        """Build a config from defaults, then the environment, then explicit overrides.

        Args:
            env: Environment to read (defaults to ``os.environ``).
            spelled: How the caller's user spells an override (``{"batch_size": "--batch-size"}``), for messages.
            **overrides: Field values that win over everything else; ``None`` values are ignored.

        Raises:
            ConfigError: An override names no field, or a value has the wrong form.
        """
        env = (
            os.environ
            if env is None
            else argtypes.mapping("env", env, "os.environ or {'MMRAG_DEVICE': 'cpu'}")
        )
        argtypes.mapping("spelled", spelled, "{'batch_size': '--batch-size'}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"Unknown setting(s) {unknown}; known settings are: {sorted(names)}")
        values = {name: coerce(name, env[var], var) for name, var in ENV_VARS.items() if env.get(var)}
        values.update(
            {k: coerce(k, v, (spelled or {}).get(k, k)) for k, v in overrides.items() if v is not None}
        )
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Config:
        """Return a copy with some fields replaced (``None`` values are ignored)."""
        values = {k: coerce(k, v, k) for k, v in overrides.items() if v is not None}
        if "collection" not in values and self.collection == collection_for(self.encoder):
            values["collection"] = ""  # it followed the encoder, so it follows a new one
        return dataclasses.replace(self, **values)

    def compile_choice(self) -> bool | None:
        """:attr:`compile` as True, False, or None for ``auto``."""
        return {"on": True, "off": False}.get(self.compile)

    def public_dict(self) -> dict[str, Any]:
        """All settings except secrets, safe to write into reports and notebooks: the token is ``***`` and
        every URL is :func:`~mmrag_lab.redaction.public_url` (no password, no query value)."""
        out = dataclasses.asdict(self)
        for name in SECRET_FIELDS:
            out[name] = "***" if out.get(name) else None
        for name in URL_FIELDS:
            out[name] = public_url(out[name])
        return out

    to_dict = public_dict  # what records (workbench.recorder.to_jsonable) call: never the raw fields

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.public_dict().items() if k not in SECRET_FIELDS}
        return f"Config({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


SERVER_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "unix:")


def is_lite_uri(uri: str) -> bool:
    """True when ``uri`` is a local Milvus Lite path rather than a server address (any scheme above)."""
    return not uri.startswith(SERVER_SCHEMES)
