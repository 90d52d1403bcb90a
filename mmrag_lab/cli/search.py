"""``mmrag search``: a composed query (image + instruction), an image or a text; optionally reranked by an LLM.

Prints the hits as a table (or JSON with ``--json``) and writes the result grid as PNG, plus the panorama
and the reranked grid when ``--rerank`` is given, into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from mmrag_lab import checks
from mmrag_lab.cli.options import add_encoder, add_reranker, add_store, check_out
from mmrag_lab.errors import CollectionMismatchError, ConfigError, ImageLoadError
from mmrag_lab.images import load_image
from mmrag_lab.store.where import WHERE_RULES, parse_where
from mmrag_lab.terminal import printable


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "search",
        help="search the collection with an image + instruction, an image, or a text",
        description=(
            f"Search the collection and print the top-k hits. --where filters are built safely from {WHERE_RULES}"
            ". The app's filter box reads comma-separated pairs by the same rules. The query image itself is "
            "left out of the hits unless --keep-query. --filter takes a raw Milvus expression. With --rerank, "
            "an OpenAI-compatible LLM (OPENAI_API_KEY, OPENAI_BASE_URL) reorders the hits; without one, "
            "the retrieval order is kept and the command still succeeds. --keywords fuses BM25 over the text "
            "field (ingest --text-fields) with the query through Milvus's hybrid search; --like/--unlike move "
            "the query toward/away from stored rows (Rocchio: 1, 0.75, 0.15) and leave them out of the hits."
        ),
    )
    parser.add_argument("--image", metavar="PATH", help="query image")
    parser.add_argument("--instruction", metavar="TEXT", help="what to change or keep (composed query)")
    parser.add_argument("--text", metavar="TEXT", help="text-only query")
    parser.add_argument(
        "--keywords",
        metavar="WORDS",
        help="BM25 over the text field, fused with the query (alone: BM25 only)",
    )
    parser.add_argument(
        "--fusion",
        default="rrf",
        metavar="HOW",
        help="rrf (default; reciprocal rank fusion, constant 60), rrf:C, or weighted:W with W the keywords' "
        "weight from 0 to 1 (weighted:1 = BM25 only)",
    )
    parser.add_argument(
        "--like", action="append", default=[], metavar="PATH", help="a stored path or row id to move toward"
    )
    parser.add_argument(
        "--unlike", action="append", default=[], metavar="PATH", help="a stored path or row id to move from"
    )
    parser.add_argument("--keep-judged", action="store_true", help="keep liked/unliked rows among the hits")
    parser.add_argument("-k", type=int, default=9, help="number of hits (default 9)")
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help="safe filter")
    parser.add_argument("--filter", metavar="EXPR", help="raw Milvus boolean expression (experts)")
    parser.add_argument(
        "--keep-query", action="store_true", help="let the query image (same bytes or path) be a hit"
    )
    parser.add_argument("--rerank", action="store_true", help="let the LLM reorder the hits and explain")
    parser.add_argument(
        "--json", action="store_true", help="print JSON instead of a table; write results.json"
    )
    parser.add_argument("--out", metavar="DIR", help="folder for the PNGs (default runs/search-<time>)")
    add_store(parser)
    add_encoder(parser, only=("--encoder", "--weights", "--device"))
    add_reranker(parser, renamed=("--model", "--base-url"))
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mmrag_lab.cli import config_from_args
    from mmrag_lab.retrieval.query import MAX_K, search

    config = config_from_args(args)
    out = Path(check_out("--out", args.out, f"runs/search-{time.strftime('%Y%m%d-%H%M%S')}"))
    checks.whole_number("-k", args.k, high=MAX_K)
    if args.image is not None:
        checks.existing_file("--image", args.image)
        try:
            load_image(args.image)
        except ImageLoadError as exc:
            raise ConfigError(f"--image {exc}; give a JPEG, PNG, WebP, BMP, GIF or TIFF picture.") from None
    results = search(
        args.image, args.instruction, args.text, k=args.k, where=parse_where(args.where), filter=args.filter,
        config=config, exclude_query=not args.keep_query, keywords=args.keywords, fusion=args.fusion,
        like=args.like, unlike=args.unlike, keep_judged=args.keep_judged,
    )  # fmt: skip
    if args.encoder and results.encoder != config.encoder:
        raise CollectionMismatchError(
            f"Collection {config.collection!r} was made by encoder {results.encoder!r}, not {config.encoder!r}; "
            f"search it with --encoder {results.encoder}, or name a collection made by {config.encoder}."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"--out {str(out)!r}: cannot create the folder ({exc.strerror}); name another."
        ) from None
    reranked = _rerank(args, results, config, out) if args.rerank and results.hits else None
    _write_grids(results, reranked, args, out)
    record: dict[str, Any] = results.to_dict()
    if reranked is not None:
        record["rerank"] = reranked.to_dict()
    if args.json:
        (out / "results.json").write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
        print(json.dumps(record, ensure_ascii=False))
    else:
        _print_tables(results, reranked)
    print(f"figures written to {out}", file=sys.stderr)
    return 0


def _rerank(args: argparse.Namespace, results, config, out: Path):
    from mmrag_lab.reranking.reranker import rerank

    query = args.image
    if query is None:
        print(
            "--rerank needs --image (the reranker compares pictures); showing retrieval order.",
            file=sys.stderr,
        )
        return None
    reranked = rerank(results, query, args.instruction or "", config=config)
    if reranked.panorama is not None:
        reranked.panorama.image.save(out / "panorama.png")
    if not reranked.ok:
        print(f"reranker fell back to the retrieval order: {reranked.fallback_reason}", file=sys.stderr)
    return reranked


def _write_grids(results, reranked, args: argparse.Namespace, out: Path) -> None:
    from mmrag_lab.plots.figures import plot_rerank, plot_results

    plot_results(results, query_image=args.image).savefig(out / "results.png", dpi=100)
    if reranked is not None:
        figure = plot_rerank(results, reranked, query_image=args.image)
        figure.savefig(out / "reranked.png", dpi=100)


def _print_tables(results, reranked) -> None:
    print(results.to_text())
    if reranked is None or not reranked.ok:
        return
    print(f"\nreranked by {reranked.model}{' (cached reply)' if reranked.cached else ''}:")
    for position, hit in enumerate(reranked.hits, start=1):
        print(f"{position:>4}  (was #{hit.rank:<3}) {printable(hit.path)}")
    print(f"why #1: {printable(reranked.explanation)}")
