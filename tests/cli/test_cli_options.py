"""One spelling per option: the store, encoder and reranker options are declared once (``cli/options.py``)
and read the same way by every subcommand; ``mmrag lite`` takes ``--uri``; the old reranker spellings of
``mmrag search`` still work for one release; ``--devices`` is the Ray engine (tests/cli/test_cli_engine_options.py)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from mmrag_lab.cli import build_parser
from mmrag_lab.cli.options import RENAMED, SHARED

CLI = [sys.executable, "-m", "mmrag_lab.cli"]


def mmrag(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})  # fmt: skip


def subcommands() -> dict[str, argparse.ArgumentParser]:
    [choices] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(choices.choices)


@pytest.mark.parametrize("command", ["search", "eval"])
def test_search_and_eval_both_name_the_reranker_llm_model(command):
    done = mmrag(command, "--help")
    assert done.returncode == 0, done.stderr
    for flag in ("--llm-model", "--llm-base-url", "--llm-timeout", "--llm-retries", "--connect-timeout"):
        assert flag in done.stdout, flag
    assert "--model " not in done.stdout and "--base-url " not in done.stdout  # the old spellings are hidden


def test_every_shared_option_has_one_help_text_wherever_it_is_taken():
    shared = {option.flag: option for option in SHARED}
    seen: dict[str, set[str]] = {}
    for name, parser in subcommands().items():
        for action in parser._actions:
            for flag in action.option_strings:
                if flag in shared:
                    assert action.help == shared[flag].help, (name, flag)
                    assert action.metavar == shared[flag].metavar and action.type is shared[flag].type
                    seen.setdefault(flag, set()).add(name)
    assert seen["--uri"] == {"ingest", "search", "eval", "info", "migrate", "lite", "app"}
    assert seen["--connect-timeout"] == {"ingest", "search", "eval", "info", "migrate", "app"}
    assert seen["--llm-model"] == {"search", "eval"} and seen["--batch-size"] == {"ingest", "eval"}


def test_the_old_spellings_are_hidden_aliases_of_search_only():
    for name, parser in subcommands().items():
        flags = {flag: action for action in parser._actions for flag in action.option_strings}
        for old, new in RENAMED.items():
            if name == "search":
                assert flags[old].dest == flags[new].dest and flags[old].help == argparse.SUPPRESS
            else:
                assert old not in flags, (name, old)


def test_an_old_spelling_warns_names_the_new_one_and_its_value_is_checked_as_typed(tmp_path):
    done = mmrag("search", "--uri", str(tmp_path / "x.db"), "--text", "red", "--model", "m",
                 "--base-url", "ftp://llm/v1", "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--model is deprecated and goes in the next release; use --llm-model instead" in done.stderr
    assert "--base-url is deprecated and goes in the next release; use --llm-base-url instead" in done.stderr
    assert "--base-url must be an http(s)://host[:port][/path] address" in done.stderr  # as the user typed it
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_lite_status_takes_uri_like_every_command_and_the_positional_still_works(tmp_path):
    db = str(tmp_path / "nothing.db")
    for argv in (["lite", "status", "--uri", db], ["lite", "status", db], ["lite", "stop", "--uri", db]):
        done = mmrag(*argv)
        assert done.returncode == 0, done.stderr
        assert f"{db}: there is no Milvus Lite database here" in done.stdout
    both = mmrag("lite", "status", db, "--uri", str(tmp_path / "other.db"))
    assert both.returncode == 2 and "Two databases given" in both.stderr and "Traceback" not in both.stderr
    env = mmrag("lite", "status", env={"MMRAG_MILVUS_URI": db})
    assert env.returncode == 0 and db in env.stdout


@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_lite_status_uri_reports_a_running_server(tmp_path, sample_dir):
    db = str(tmp_path / "served.db")
    from mmrag_lab.config import Config
    from mmrag_lab.store.vector_store import Store

    with Store.open(Config.load(env={}, milvus_uri=db, collection="c")) as store:
        store.collections()  # the file's server starts
    done = mmrag("lite", "status", "--uri", db)
    assert done.returncode == 0 and "served by pid" in done.stdout, done.stdout + done.stderr
    stop = mmrag("lite", "stop", "--uri", db)
    assert stop.returncode == 0 and "stopped the server" in stop.stdout
