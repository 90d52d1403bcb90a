"""``mmrag info``: what a collection holds: rows, encoder, ingested folders and metadata columns with types."""

from __future__ import annotations

import argparse
import json

from mmrag_lab.cli.options import add_encoder, add_store


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "info",
        help="show a collection: rows, encoder, folders, metadata columns and types, keyword search fields",
        description=(
            "Print the collection's row count, backend, encoder, the folders ingested into it (by root "
            "name) and each sidecar metadata column with its type (int, float, bool, text, list[...]): "
            "the types that --where values are read as; and whether --keywords can search it: the sidecar "
            "columns joined into its BM25 text field (ingest --text-fields, or migrate --text-fields)."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_store(parser)
    add_encoder(parser, only=("--encoder",))
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mmrag_lab.cli import config_from_args
    from mmrag_lab.inspection.summary import collection_summary
    from mmrag_lab.store.vector_store import Store

    with Store.open(config_from_args(args), read_only=True) as store:
        summary = collection_summary(store)
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False))
    else:
        print(summary.to_text())
    return 0
