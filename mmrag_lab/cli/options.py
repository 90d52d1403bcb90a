"""The options several subcommands share, each declared once with one help text, and the checks they all
run first.

Three groups: the store (``--uri``, ``--collection``, ``--connect-timeout``), the encoder (``--encoder``,
``--weights``, ``--device``, ``--batch-size``) and the reranker (``--llm-model``, ``--llm-base-url``,
``--llm-timeout``, ``--llm-retries``). A subcommand adds a group (or the part of it that it uses) with
:func:`add_store`, :func:`add_encoder` and :func:`add_reranker`; :func:`config_fields` reads them back as
:class:`~mmrag_lab.config.Config` fields, and :data:`SPELLED` names each field's option in messages.

Every check here runs before a store is opened or an encoder is loaded, so that a mistake costs
milliseconds and its message names the option as the user typed it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mmrag_lab import checks


@dataclass(frozen=True)
class Option:
    """One shared option: its flag, the Config field it sets, its help text, metavar and type."""

    flag: str
    field: str
    help: str
    metavar: str
    type: Callable[[str], Any] | None = None

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")


STORE = (
    Option("--uri", "milvus_uri", "Milvus Lite file (*.db) or http(s)://host:port (MMRAG_MILVUS_URI)", "URI"),
    Option("--collection", "collection", "collection name (MMRAG_COLLECTION; default follows --encoder)",
           "NAME"),
    Option("--connect-timeout", "milvus_connect_timeout",
           "seconds to wait for Milvus to answer (MMRAG_MILVUS_CONNECT_TIMEOUT, default 10)", "S", float),
)  # fmt: skip
ENCODER = (
    Option("--encoder", "encoder", "encoder preset (MMRAG_ENCODER; `mmrag encoders` lists them); it also names "
           "the default collection", "PRESET"),
    Option("--weights", "weights", "checkpoint path or 'untrained' (MMRAG_WEIGHTS)", "PATH"),
    Option("--device", "device", "auto, cpu, cuda, cuda:N or mps (MMRAG_DEVICE)", "DEVICE"),
    Option("--batch-size", "batch_size", "images or queries per encoder batch (MMRAG_BATCH_SIZE)", "N", int),
)  # fmt: skip
RERANKER = (
    Option("--llm-model", "llm_model", "the reranker's chat model (MMRAG_LLM_MODEL, default gpt-4o)", "MODEL"),
    Option("--llm-base-url", "llm_base_url", "the reranker's OpenAI-compatible endpoint (OPENAI_BASE_URL)",
           "URL"),
    Option("--llm-timeout", "llm_timeout",
           "seconds to wait for the reranker's reply (MMRAG_LLM_TIMEOUT, default 20; not retried)", "S", float),
    Option("--llm-retries", "llm_max_retries",
           "retries after 429, 5xx or a failed connection (MMRAG_LLM_MAX_RETRIES, default 3)", "N", int),
)  # fmt: skip
SHARED = STORE + ENCODER + RERANKER
# Config field -> the option that sets it, so that a message names what the user typed.
SPELLED = {option.field: option.flag for option in SHARED}
# Old spellings kept for one release: old flag -> the shared option that replaces it.
RENAMED = {"--model": "--llm-model", "--base-url": "--llm-base-url"}


def add_store(parser: argparse.ArgumentParser, only: Sequence[str] | None = None) -> None:
    """The store's options (or those named in ``only``), in a "store" section of the help."""
    _add(parser, "store", STORE, only)


def add_encoder(parser: argparse.ArgumentParser, only: Sequence[str] | None = None) -> None:
    """The encoder's options (or those named in ``only``), in an "encoder" section of the help."""
    _add(parser, "encoder", ENCODER, only)


def add_reranker(parser: argparse.ArgumentParser, renamed: Sequence[str] = ()) -> None:
    """The reranker's options, in a "reranker" section; ``renamed`` adds old spellings (:data:`RENAMED`)
    as hidden aliases that still work and print a warning naming the new spelling."""
    group = _add(parser, "reranker", RERANKER, None)
    by_flag = {option.flag: option for option in RERANKER}
    for old in renamed:
        new = by_flag[RENAMED[old]]
        group.add_argument(old, dest=new.dest, action=_Renamed, new=new, help=argparse.SUPPRESS)


def _add(parser: argparse.ArgumentParser, title: str, options: tuple[Option, ...], only) -> Any:
    unknown = set(only or ()) - {option.flag for option in options}
    if unknown:
        raise ValueError(f"not {title} options: {sorted(unknown)}")
    group = parser.add_argument_group(title)
    for option in options:
        if only is None or option.flag in only:
            group.add_argument(option.flag, type=option.type, metavar=option.metavar, help=option.help)
    return group


class _Renamed(argparse.Action):
    """An old spelling of a shared option: stores into the new one's place and says the new spelling."""

    def __init__(self, option_strings, dest, new: Option, **kwargs):
        super().__init__(option_strings, dest, type=new.type, metavar=new.metavar, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: warning: {option_string} is deprecated and goes in the next release; use "
              f"{self.new.flag} instead.", file=sys.stderr)  # fmt: skip
        setattr(namespace, self.dest, values)
        spelled = dict(getattr(namespace, "spelled_as", None) or {})
        namespace.spelled_as = {**spelled, self.new.field: option_string}


def config_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The shared options given on the command line, as Config fields (None where not given)."""
    return {option.field: getattr(args, option.dest, None) for option in SHARED}


def check_out(name: str, value: str | None, default: str) -> str:
    """``--out`` (or its ``default`` when not given): a folder, existing or not, never an existing file, where
    a file can be written now. Runs before any work, so that no result is lost to a write that cannot work."""
    out = default if value is None else value
    checks.output_folder(name if value is not None else f"{name} (default {default})", out)
    return out
