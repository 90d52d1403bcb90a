"""``mmrag eval QUERIES``: score a collection on a query set (and the LLM reranker on top of it)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from mmrag_lab import checks
from mmrag_lab.cli.options import add_encoder, add_reranker, add_store, check_out
from mmrag_lab.errors import ConfigError


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "eval",
        help="measure retrieval (and reranking) quality on a query set",
        description=(
            "Search every query of QUERIES in the collection and report Recall@K, Recall_subset@K (CIRR) "
            "and mAP@K (CIRCO), per category when queries have one (FashionIQ). QUERIES is a JSON Lines "
            "query set, a CIRR cap.rc2.val.json, a FashionIQ captions folder, a CIRCO val.json (--kind "
            "circo), or a folder of class subfolders of images (--kind folders). The run folder gets the "
            "config, the encoder, metrics.json, rankings.jsonl, a results table and plots. Ranking is exact "
            "(every stored vector scored) and follows each benchmark's official protocol unless overridden."
        ),
    )
    parser.add_argument("queries", metavar="QUERIES", help="query file or folder")
    parser.add_argument("--kind", choices=("jsonl", "cirr", "fashioniq", "circo", "folders"), help="format")
    parser.add_argument("--out", metavar="DIR", help="run folder (default runs/eval-<timestamp>)")
    parser.add_argument("-k", "--k", dest="ks", type=int, nargs="+", metavar="K", help="Recall@K (1 5 10 50)")
    parser.add_argument("--map-k", type=int, nargs="+", metavar="K", help="mAP@K (5 10 25 50)")
    parser.add_argument("--subset-k", type=int, nargs="+", metavar="K", help="Recall_subset@K (1 2 3)")
    parser.add_argument(
        "--query-template",
        help="how an annotation becomes the query text: instruction | circo-shared-concept "
        "(default: the encoder authors' choice, recorded in the run)",
    )
    ref = parser.add_mutually_exclusive_group()
    ref.add_argument(
        "--exclude-reference",
        dest="exclude_reference",
        action="store_true",
        default=None,
        help="leave the query image out of its candidates (default: the benchmark's protocol)",
    )
    ref.add_argument(
        "--keep-reference",
        dest="exclude_reference",
        action="store_false",
        help="let the query image be a candidate (default: the benchmark's protocol)",
    )
    parser.add_argument(
        "--ann",
        action="store_true",
        help="rank through the collection's index (default: exact) and report its recall@K",
    )
    parser.add_argument("--cirr-soft", action="store_true", help="CIRR: score target_soft as CIRPLANT does")
    parser.add_argument(
        "--submission",
        action="store_true",
        help="write the CIRR / CIRCO test-split submission file(s) into the run folder",
    )
    parser.add_argument(
        "--image-splits", metavar="DIR", help="FashionIQ image_splits folder (default: beside captions)"
    )
    parser.add_argument("--missing", choices=("skip", "miss"), default="skip", help="targets not stored")
    parser.add_argument("--ties", choices=("stable", "optimistic", "pessimistic"), default="stable")
    parser.add_argument("--split", help="FashionIQ split (default val)")
    parser.add_argument("--category", action="append", help="FashionIQ category (repeatable; default all)")
    parser.add_argument("--coco-info", metavar="FILE", help="CIRCO: COCO image_info_unlabeled2017.json")
    feedback = parser.add_argument_group("keywords and relevance feedback")
    feedback.add_argument(
        "--keywords-from", metavar="FIELD", help="a query-set field whose text is fused as keywords (BM25)"
    )
    feedback.add_argument(
        "--fusion", metavar="HOW", help="rrf (default), rrf:C or weighted:W (keywords' weight)"
    )
    feedback.add_argument(
        "--feedback-rounds",
        type=int,
        metavar="N",
        help="simulate N rounds of relevance feedback (Rocchio) by an oracle user; each round a run folder "
        "round-N inside --out (optimistic: see docs/evaluation.md)",
    )
    feedback.add_argument(
        "--feedback-k",
        type=int,
        metavar="K",
        help="hits the oracle judges per round (default: EvalProtocol's)",
    )
    rerank = parser.add_argument_group("reranker A/B")
    rerank.add_argument("--rerank", action="store_true", help="also rerank the top-N of every query")
    rerank.add_argument("--top-n", type=int, default=9, help="candidates shown to the reranker (9)")
    rerank.add_argument("--concurrency", type=int, default=4, help="requests in flight (4)")
    rerank.add_argument("--price-in", type=float, metavar="USD", help="price per 1M input tokens")
    rerank.add_argument("--price-out", type=float, metavar="USD", help="price per 1M output tokens")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_store(parser)
    add_encoder(parser)
    add_reranker(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mmrag_lab.cli import config_from_args
    from mmrag_lab.evaluation import EvalProtocol, evaluate

    config = config_from_args(args)
    _check_numbers(args)
    out = check_out("--out", args.out, str(Path("runs") / datetime.now().strftime("eval-%Y-%m-%d_%H%M%S")))
    if (args.price_in is None) != (args.price_out is None):
        raise ConfigError("Give both --price-in and --price-out (USD per 1M tokens), or neither.")
    prices = (
        None if args.price_in is None else {"input_per_1m": args.price_in, "output_per_1m": args.price_out}
    )
    given = {"split": args.split, "categories": args.category, "id_to_name": args.coco_info,
             "image_splits": args.image_splits}  # fmt: skip
    options = {k: v for k, v in given.items() if v}
    queries, kind = args.queries, args.kind
    if kind == "folders":
        from mmrag_lab.evaluation.inputs.folders import folder_queries

        queries, kind = folder_queries(args.queries), None
    chosen = {"ks": args.ks, "map_ks": args.map_k, "subset_ks": args.subset_k,
              "feedback_rounds": args.feedback_rounds, "feedback_k": args.feedback_k}  # fmt: skip
    extra = {k: v for k, v in chosen.items() if v is not None}  # an option not given: EvalProtocol's default
    protocol = EvalProtocol(
        exclude_reference=args.exclude_reference, ann=args.ann, cirr_soft=args.cirr_soft, missing=args.missing,
        ties=args.ties, query_template=args.query_template, keywords_from=args.keywords_from, fusion=args.fusion,
        **extra,
    )  # fmt: skip
    result = evaluate(
        queries, kind=kind, loader_options=options, config=config, protocol=protocol, rerank=args.rerank,
        rerank_top_n=args.top_n, concurrency=args.concurrency, prices=prices, submission=args.submission,
        out_dir=out, progress=not args.no_progress,
    )  # fmt: skip
    print(_summary(result))
    return 0


def _check_numbers(args: argparse.Namespace) -> None:
    for option, values in (("-k", args.ks), ("--map-k", args.map_k), ("--subset-k", args.subset_k)):
        for value in values or ():
            checks.whole_number(option, value, high=16384)
    checks.whole_number("--top-n", args.top_n, high=100)
    if args.feedback_rounds is not None:
        checks.whole_number("--feedback-rounds", args.feedback_rounds, low=0, high=100)
    if args.feedback_k is not None:
        checks.whole_number("--feedback-k", args.feedback_k, high=1000)
    checks.whole_number("--concurrency", args.concurrency, high=64)
    for option, price in (("--price-in", args.price_in), ("--price-out", args.price_out)):
        if price is not None:
            checks.amount(option, price, "a price in USD per 1M tokens")


def _summary(run) -> str:
    m = run.metrics
    lines = [run.table().to_markdown()]
    q = m["queries"]
    skipped = m["retrieval"]["missing"]["skipped_queries"]
    lines.append(f"{m['retrieval']['n_evaluated']} of {q['n_loaded']} queries scored.")
    if m.get("submission_files"):
        lines.append(f"submission file(s): {', '.join(m['submission_files'])}")
        if m.get("submission_warning"):
            lines.append(f"WARNING: {m['submission_warning']}")
    missing = [name for record in run.rankings for name in record.get("missing_targets", [])]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (", ..." if len(missing) > 5 else "")
        lines.append(f"{len(missing)} target names match no stored image: {shown}")
    if q["n_encoded"] < q["n_loaded"] or skipped:
        lines.append(
            "Some queries could not be scored: see 'queries' and 'retrieval.missing' in metrics.json."
        )
    if run.untrained:
        lines.append("WARNING: the encoder ran on UNTRAINED weights; these numbers mean nothing.")
    if m.get("rerank"):
        r = m["rerank"]
        cost = "n/a (pass --price-in/--price-out)" if r["cost_usd"] is None else f"${r['cost_usd']:.4f}"
        lines.append(
            f"reranker: {r['n_fallback']} fallback(s), {r['n_cached']} cached, "
            f"{r['usage']['prompt_tokens']} input / {r['usage']['completion_tokens']} output tokens, "
            f"p50 latency {r['latency_s']['p50']:.2f} s, estimated cost {cost}; moves {m['rank_moves']}"
        )
    for entry in m.get("feedback_rounds") or ():
        overall = entry["retrieval"]["overall"]
        recall = ", ".join(
            f"{name} {value * 100:.1f}" for name, value in overall.items() if name.startswith("recall@")
        )
        lines.append(f"feedback round {entry['round']} ({entry['liked']} liked, {entry['unliked']} unliked): "
                     f"{recall}; run folder {entry['run']}")  # fmt: skip
    lines.append(f"run folder: {run.out_dir}")
    return "\n".join(lines)
