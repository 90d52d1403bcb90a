"""``mmrag app [--port N] [--host H]``: the search-and-rerank app as a web page, served by Voilà."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from mmrag_lab import checks
from mmrag_lab.cli import config_from_args
from mmrag_lab.cli.options import add_encoder, add_store
from mmrag_lab.config import ENV_VARS, Config, is_lite_uri
from mmrag_lab.errors import ConfigError

PASSED = ("milvus_uri", "collection", "encoder", "weights", "device", "app_max_upload_mb", "app_idle_timeout",
          "app_max_kernels", "milvus_connect_timeout")  # fmt: skip
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "app",
        help="serve the search-and-rerank app as a web page (Voilà): no code, no notebook",
        description=(
            "Serve notebooks/app.ipynb with Voila: visitors get the app (upload or pick a query, Search, "
            "Rerank, and the compare view when the URI holds two collections) and never the code. Each "
            "visitor gets a kernel; all share the collection. Secrets (OPENAI_API_KEY, MMRAG_MILVUS_TOKEN) "
            "come from this server's environment. Listens on 127.0.0.1 unless --host says otherwise."
        ),
    )
    parser.add_argument("--port", type=int, default=None, metavar="N", help="port, 1 to 65535 (default 8866)")
    parser.add_argument("--host", default="127.0.0.1", metavar="H",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 opens it to the network)")  # fmt: skip
    add_store(parser)
    add_encoder(parser, only=("--encoder", "--weights", "--device"))
    parser.add_argument("--max-upload-mb", type=float, metavar="MB",
                        help="largest query image accepted (MMRAG_APP_MAX_UPLOAD_MB, default 10)")  # fmt: skip
    parser.add_argument("--idle-timeout", type=float, metavar="S",
                        help="cull a visitor's kernel after S idle seconds (MMRAG_APP_IDLE_TIMEOUT, 600; 0: never)")  # fmt: skip
    parser.add_argument("--max-kernels", type=int, metavar="N",
                        help="most visitors at once (MMRAG_APP_MAX_KERNELS, default 8; 0: no cap)")  # fmt: skip
    parser.add_argument(
        "--notebook", metavar="PATH", help="the page's notebook (default notebooks/app.ipynb)"
    )
    parser.set_defaults(func=run)
    return parser


def app_config(args: argparse.Namespace) -> Config:
    """The settings the page will run with: options over the environment over the defaults."""
    spelled = {"app_max_upload_mb": "--max-upload-mb", "app_idle_timeout": "--idle-timeout",
               "app_max_kernels": "--max-kernels"}  # fmt: skip
    return config_from_args(args, spelled=spelled, app_max_upload_mb=args.max_upload_mb,
                            app_idle_timeout=args.idle_timeout, app_max_kernels=args.max_kernels)  # fmt: skip


def kernel_environment(config: Config, base: dict[str, str]) -> dict[str, str]:
    """``base`` with the settings the CLI decided written as ``MMRAG_*``, so every visitor's kernel reads them."""
    env = dict(base)
    for name in PASSED:
        value = getattr(config, name)
        if name in ("milvus_uri", "weights") and value and is_lite_uri(value) and Path(value).exists():
            value = str(Path(value).resolve())  # the kernels run in the notebook's folder
        if value is not None:
            env[ENV_VARS[name]] = str(value)
    return env


def run(args: argparse.Namespace) -> int:
    from mmrag_lab.workbench.serving.app_server import (
        APP_NOTEBOOK,
        DEFAULT_PORT,
        check_listen,
        page_url,
        voila_command,
    )

    port = checks.port("--port", DEFAULT_PORT if args.port is None else args.port)
    config = app_config(args)
    notebook = Path(args.notebook) if args.notebook else APP_NOTEBOOK
    if not notebook.is_file():
        raise ConfigError(
            f"No app notebook at {notebook}: pass --notebook PATH (the repository's notebooks/app.ipynb)."
        )
    check_listen(args.host, port)  # before the address is announced
    command = voila_command(config, notebook, host=args.host, port=port)
    print(
        f"mmrag app: collection {config.collection!r} at {page_url(args.host, port)} (Ctrl-C stops it)",
        flush=True,
    )
    if args.host not in LOOPBACK:
        print(f"mmrag app: listening on {args.host}: anyone who reaches it can search and rerank with this "
              "server's key.", flush=True)  # fmt: skip
    proc = subprocess.Popen(command, env=kernel_environment(config, dict(os.environ)))
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())  # Voila then shuts its kernels down
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        print("mmrag app: stopped.", file=sys.stderr)
        return 0
