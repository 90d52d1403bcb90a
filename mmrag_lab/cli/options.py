"""Options that several subcommands share (network bounds), and the checks they all run first.

Every check here runs before a store is opened or an encoder is loaded, so that a mistake costs
milliseconds and its message names the option as the user typed it.
"""

from __future__ import annotations

import argparse

from mmrag_lab import checks


def add_connect_timeout(parser: argparse.ArgumentParser) -> None:
    """``--connect-timeout S``: how long to wait for Milvus to answer (MMRAG_MILVUS_CONNECT_TIMEOUT)."""
    parser.add_argument(
        "--connect-timeout", type=float, metavar="S",
        help="seconds to wait for Milvus to answer (MMRAG_MILVUS_CONNECT_TIMEOUT, default 10)",
    )  # fmt: skip


def add_llm_bounds(parser: argparse.ArgumentParser) -> None:
    """``--llm-timeout S`` and ``--llm-retries N``: how long and how often to wait for the reranker."""
    parser.add_argument(
        "--llm-timeout", type=float, metavar="S",
        help="seconds to wait for the reranker's reply (MMRAG_LLM_TIMEOUT, default 20; not retried)",
    )  # fmt: skip
    parser.add_argument(
        "--llm-retries", type=int, metavar="N",
        help="retries after 429, 5xx or a failed connection (MMRAG_LLM_MAX_RETRIES, default 3)",
    )  # fmt: skip


def llm_bounds(args: argparse.Namespace) -> dict[str, object]:
    """The reranker's bounds given on the command line, as Config fields."""
    return {
        "llm_timeout": getattr(args, "llm_timeout", None),
        "llm_max_retries": getattr(args, "llm_retries", None),
    }


def check_out(name: str, value: str | None, default: str) -> str:
    """``--out`` (or its ``default`` when not given): a folder, existing or not, never an existing file, where
    a file can be written now. Runs before any work, so that no result is lost to a write that cannot work."""
    out = default if value is None else value
    checks.output_folder(name if value is not None else f"{name} (default {default})", out)
    return out
