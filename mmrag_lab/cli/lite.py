"""``mmrag lite status|stop [--uri URI]``: what serves a Milvus Lite file, and stopping it."""

from __future__ import annotations

import argparse
import os
import time

from mmrag_lab.cli.options import add_store
from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError
from mmrag_lab.store.backends import backend_for
from mmrag_lab.store.lite_discovery import server_status, stop_server


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "lite",
        help="show or stop the local server that shares a Milvus Lite file between processes",
        description=(
            "Every process that opens a Milvus Lite file (*.db) reaches it through one local server, started "
            "by the first of them and stopped after MMRAG_LITE_IDLE_TIMEOUT seconds (900) without a request. "
            "'status' shows it, 'stop' stops it now (the next user starts it again)."
        ),
    )
    parser.add_argument("action", choices=("status", "stop"))
    parser.add_argument(
        "database",
        nargs="?",
        metavar="URI",
        help="the Lite file, as --uri gives it (default MMRAG_MILVUS_URI)",
    )
    add_store(parser, only=("--uri",))
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.database is not None and args.uri is not None and args.database != args.uri:
        raise ConfigError(
            f"Two databases given: {args.database!r} and --uri {args.uri!r}; give one (--uri is the spelling "
            "every command takes)."
        )
    config = Config.load(milvus_uri=args.uri or args.database, spelled={"milvus_uri": "--uri"})
    backend = backend_for(config.milvus_uri)
    served = backend.served_file()
    if served is None:
        raise ConfigError(
            f"{backend.display_uri()} is a {backend.label} address; 'mmrag lite' is for Milvus Lite files (*.db)."
        )
    path = str(served)
    if not os.path.exists(path):
        print(f"{path}: there is no Milvus Lite database here (nothing was created); `mmrag ingest FOLDER "
              f"--uri {path}` makes one.")  # fmt: skip
        return 0
    if args.action == "stop":
        print(f"stopped the server of {path}" if stop_server(path) else f"no server was running for {path}")
        return 0
    print(describe(server_status(path)))
    return 0


def describe(status: dict) -> str:
    """One paragraph a person can read."""
    if not status["running"]:
        return f"{status['db']}: no server running (the next process to open it starts one)."
    if not status.get("answering", True):
        return f"{status['db']}: served by pid {status['pid']}, which does not answer. {status['advice']}"
    calls = sum(status.get("calls", {}).values())
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status["started"]))
    return (
        f"{status['db']}: served by pid {status['pid']} on 127.0.0.1 since {started}; {calls} requests, "
        f"idle for {status['idle_for_s']:.0f} s, stops after {status['idle_timeout_s']:.0f} s idle "
        f"(record: {status['record']})."
    )
