"""The ``mmrag`` console command. Each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from mmrag_lab.bugs import log_unexpected
from mmrag_lab.config import Config
from mmrag_lab.errors import (
    AuthenticationError,
    MmragError,
    RerankError,
    StoreFailedError,
    StoreGoneError,
    StoreStalledError,
)
from mmrag_lab.terminal import printable

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
    """Entry point: returns the process exit code.

    0: the job ran (bad items, if any, are named in its report); 1: the job started and failed; 2: a usage
    error (a wrong argument, file, URI or setting, found before anything was changed); 130: interrupted;
    141: the output was closed by its reader (``| head``), quietly, like any program that SIGPIPE ends.
    An unexpected exception (a bug) is one line plus the path of a log file with its traceback
    (:mod:`mmrag_lab.bugs`), exit code 1.
    """
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args) or 0)
        except MmragError as exc:
            print(f"mmrag {args.command}: error: {_shown(exc)}", file=sys.stderr)
            return 2 if _usage_error(exc) else 1
        except BrokenPipeError:  # the reader went away (`mmrag info | head`): stop quietly, as `cat` does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return 141
        except KeyboardInterrupt:
            print(f"mmrag {args.command}: interrupted; re-run the same command to resume.", file=sys.stderr)
            return 130
        except Exception as exc:  # the last resort for bugs: one line and a log file, never a traceback
            print(_shown(log_unexpected(exc, f"mmrag {args.command}")), file=sys.stderr)
            return 1


def _usage_error(exc: MmragError) -> bool:
    """Whether ``exc`` says the user asked for something that cannot work (exit 2: arguments, files, URIs,
    settings, query sets, collections, credentials, a store that cannot be opened at the address given)
    rather than a job that could not finish (exit 1: an endpoint that kept failing, a store that refused a
    call or stopped answering during the work, a database deleted while in use)."""
    if isinstance(exc, (StoreFailedError, StoreStalledError, StoreGoneError)):
        return False
    return not isinstance(exc, RerankError) or isinstance(exc, AuthenticationError)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"mmrag: warning: {_shown(message)}", file=sys.stderr)


def _shown(message: object) -> str:
    """A message as the terminal shows it: its own lines kept, control characters in them escaped."""
    return "\n".join(printable(line) for line in str(message).splitlines())


def config_from_args(
    args: argparse.Namespace, *, spelled: dict[str, str] | None = None, **extra: object
) -> Config:
    """Settings given on the command line (the shared options of :mod:`.options` that a subcommand has, and
    ``extra`` Config fields) over the environment and the defaults; messages name the options as typed."""
    from mmrag_lab.cli.options import SPELLED, config_fields

    named = {**SPELLED, **(getattr(args, "spelled_as", None) or {}), **(spelled or {})}
    return Config.load(spelled=named, **{**config_fields(args), **extra})


def _load(module_name: str):
    try:
        return importlib.import_module(f"mmrag_lab.cli.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"mmrag_lab.cli.{module_name}":
            return None
        raise


if __name__ == "__main__":
    sys.exit(main())
