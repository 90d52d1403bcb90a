"""``mmrag migrate``: upgrade a collection made by an older mmrag_lab in place, keeping every vector."""

from __future__ import annotations

import argparse

from mmrag_lab.cli.options import add_store


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "migrate",
        help="upgrade an older (content-hash keyed) collection in place, without re-encoding",
        description=(
            "Rewrite a collection of the older schema (one row per distinct content) into one row per "
            "file, keyed by its ingested folder and relative path. Every vector, path and metadata value "
            "is kept; nothing is encoded. The folder of each row is the common folder of the stored paths "
            "unless --root names the ingested folder(s). Safe to re-run if interrupted."
        ),
    )
    parser.add_argument(
        "--root", action="append", default=[], metavar="DIR", help="a folder that was ingested (repeatable)"
    )
    add_store(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mmrag_lab.cli import config_from_args
    from mmrag_lab.store.migrate import migrate
    from mmrag_lab.store.vector_store import Store

    with Store.open(config_from_args(args)) as store:
        result = migrate(store, roots=args.root)
    print(result.summary())
    return 0
