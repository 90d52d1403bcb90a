"""The ``mmrag`` console command. Each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mmrag_lab.config import Config
from mmrag_lab.errors import MmragError

# subcommand -> module in this package; each module has add_parser(subparsers) and run(args) -> int
SUBCOMMANDS = {
    "ingest": "ingest",
    "search": "search",
    "eval": "evaluate",
    "info": "info",
    "migrate": "migrate",
    "lite": "lite",
    "compare": "compare",
    "encoders": "encoders",
    "app": "app",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmrag", description="Multimodal RAG workbench for Milvus.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        module = _load(module_name)
        if module is not None:
            module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the process exit code (0 = the job ran)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MmragError as exc:
        print(f"mmrag {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mmrag {args.command}: interrupted; re-run the same command to resume.", file=sys.stderr)
        return 130


def config_from_args(args: argparse.Namespace, **extra: object) -> Config:
    """Settings given on the command line (``--uri``, ``--collection``, ``--encoder``, ``--weights``,
    ``--device``, where a subcommand has them) over the environment and the defaults."""
    named = {"milvus_uri": "uri", "collection": "collection", "encoder": "encoder", "weights": "weights",
             "device": "device"}  # fmt: skip
    return Config.load(**{field: getattr(args, option, None) for field, option in named.items()}, **extra)


def _load(module_name: str):
    try:
        return importlib.import_module(f"mmrag_lab.cli.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"mmrag_lab.cli.{module_name}":
            return None
        raise


if __name__ == "__main__":
    sys.exit(main())
