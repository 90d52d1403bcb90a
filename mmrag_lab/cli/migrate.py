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
    parser.add_argument(
        "--text-fields",
        metavar="COLUMNS",
        help="add (or change) the analysed text field made from these sidecar columns, e.g. title,caption, "
        "searchable with --keywords (Milvus Lite or a server >= 2.5)",
    )
    add_store(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mmrag_lab.cli import config_from_args
    from mmrag_lab.store.migrate import migrate
    from mmrag_lab.store.text_fields import parse_columns
    from mmrag_lab.store.text_migrate import add_text_fields
    from mmrag_lab.store.vector_store import Store

    columns = parse_columns("--text-fields", args.text_fields)
    with Store.open(config_from_args(args)) as store:
        if columns:
            store.require_text_search("--text-fields")  # refused before the format upgrade too
        result = migrate(store, roots=args.root)
        if not (columns and result.already_current):
            print(result.summary())
        if columns:
            print(add_text_fields(store, columns).summary())
    return 0
