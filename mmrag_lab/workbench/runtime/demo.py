"""``make demo``: the whole workbench on the bundled sample, end to end, with no flags.

1. decide the weights (real ones when cached or downloadable; otherwise untrained, said loudly);
2. ingest the bundled sample into a Milvus Lite demo database (``runs/demo.db``; re-runs skip what is stored);
3. run a composed search;
4. rerank, when ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` is set;
5. inspect the collection;
6. print where the executed notebooks, the recorded values and the pictures are.

Every step runs as its notebook (01-04) through papermill, so what the demo shows is exactly what the
notebooks show. Run it with ``python -m mmrag_lab.workbench.runtime.demo [--out runs]``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from mmrag_lab.config import Config
from mmrag_lab.errors import WeightsError
from mmrag_lab.reranking.llm import reranker_configured
from mmrag_lab.workbench.runtime.notebook_runs import RunSummary, new_run_dir, run_notebooks
from mmrag_lab.workbench.runtime.weights_choice import WeightsChoice, how_to_get_weights, pick_weights

INSTRUCTION = "the same kind of garment, but in red"
RULE = "=" * 96


def resolve_weights(encoder: str, weights: str | None) -> WeightsChoice:
    """:func:`pick_weights`, plus the download itself (in this terminal, with progress) when one is due."""
    choice = pick_weights(encoder, weights)
    if choice.weights is not None:
        return choice
    from mmrag_lab.encoders.presets import get_preset
    from mmrag_lab.encoders.weights import resolve_checkpoint

    try:
        return WeightsChoice(resolve_checkpoint(get_preset(encoder), None), False, "downloaded from the hub")
    except WeightsError as exc:
        os.environ["HF_HUB_OFFLINE"] = "1"
        return WeightsChoice("untrained", True, f"the download failed ({type(exc.__cause__).__name__})")


def banner(choice: WeightsChoice, encoder: str) -> str:
    """The loud notice printed at the start and at the end of the demo."""
    if not choice.untrained:
        return f"Encoder {encoder} with real weights ({choice.reason})."
    return "\n".join([
        RULE,
        "  UNTRAINED WEIGHTS: this demo's vectors, scores and rankings MEAN NOTHING.",
        f"  Why: {choice.reason}.",
        f"  Get the real ones: {how_to_get_weights(encoder)}.",
        "  Everything still runs end to end, and every figure carries an 'UNTRAINED WEIGHTS' mark.",
        RULE,
    ])  # fmt: skip


def collection_name(encoder: str, untrained: bool) -> str:
    """One demo collection per encoder and kind of weights, so that vector spaces never meet."""
    return re.sub(r"\W", "_", f"demo_{encoder}_{'untrained' if untrained else 'trained'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mmrag_lab.workbench.runtime.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", default="runs", help="folder for the demo database and the run folders")
    args = parser.parse_args(argv)
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # kernels inherit it: no gRPC fork notices in the output
    config = Config.load()
    choice = resolve_weights(config.encoder, config.weights)
    print(banner(choice, config.encoder), flush=True)
    names = ["01_ingest", "02_search", "04_inspect"]
    if reranker_configured(config):
        names.insert(2, "03_rerank")
    run_dir = new_run_dir(args.out)
    parameters = {
        "URI": str(Path(args.out).resolve() / "demo.db"),
        "COLLECTION": collection_name(config.encoder, choice.untrained),
        "ENCODER": config.encoder,
        "WEIGHTS": choice.weights,
        "INSTRUCTION": INSTRUCTION,
    }
    print(f"Running {', '.join(names)} on the bundled sample into {run_dir}", flush=True)
    summary = run_notebooks(names, run_dir=run_dir, parameters=parameters)
    print(report(summary, reranker_configured(config)))
    print(banner(choice, config.encoder))
    return 0 if summary.ok else 1


def report(summary: RunSummary, reranked: bool) -> str:
    """What the user got: one line per step, then where everything is."""
    from mmrag_lab.workbench.runtime.demo_report import step_lines

    lines = ["", "What you got:", *step_lines(summary.run_dir, reranked)]
    lines += [f"  FAILED {name}: {reason}" for name, reason in summary.failed.items()]
    lines += ["", f"Executed notebooks ({len(summary.executed)}):"]
    lines += [f"  {path}" for path in summary.executed]
    lines += [f"Pictures ({len(summary.figures)}): {summary.run_dir / 'figures'}"]
    lines += [f"Recorded values: {summary.run_dir}/*.json", "Open them with `make lab`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
