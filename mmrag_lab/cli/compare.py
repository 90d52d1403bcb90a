"""``mmrag compare RUN_DIR RUN_DIR [...]``: evaluation runs side by side, with paired significance tests."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from mmrag_lab import checks
from mmrag_lab.cli.options import check_out


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "compare",
        help="compare evaluation runs: metrics, differences, paired tests, disagreements",
        description=(
            "Put the metrics of two or more run folders (mmrag eval --out) side by side: overall, per "
            "category, before and after reranking, and each run's difference from the first in points with "
            "a paired permutation test (p-value) and a paired bootstrap 95 %% CI over the queries. Checks "
            "first that the runs share queries, candidates and protocol, and says so at the top when not. "
            "Writes compare.json, compare.md, compare.csv and disagreement figures into the output folder."
        ),
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders; the first is the baseline")
    parser.add_argument("--out", metavar="DIR", help="output folder (default runs/compare-<timestamp>)")
    parser.add_argument(
        "--labels", nargs="+", metavar="NAME", help="one name per run (default: encoder names)"
    )
    parser.add_argument(
        "--resamples", type=int, default=None, metavar="N", help="permutations and bootstrap resamples (2999)"
    )
    parser.add_argument(
        "--show", type=int, default=4, metavar="N", help="queries per disagreement figure (4; 0: none)"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mmrag_lab.evaluation import compare
    from mmrag_lab.evaluation.comparing.paired_stats import (
        MAX_RESAMPLES,
        MAX_SHOW,
        MIN_RESAMPLES,
        N_RESAMPLES,
    )

    resamples = N_RESAMPLES if args.resamples is None else args.resamples
    checks.whole_number("--resamples", resamples, low=MIN_RESAMPLES, high=MAX_RESAMPLES)
    checks.whole_number("--show", args.show, low=0, high=MAX_SHOW)
    out = check_out("--out", args.out, str(Path("runs") / datetime.now().strftime("compare-%Y-%m-%d_%H%M%S")))
    result = compare(*args.runs, labels=args.labels, out_dir=out, n_resamples=resamples, show=args.show)
    print(result._repr_markdown_())
    if not result.comparable:
        print(
            "WARNING: the runs are NOT comparable (see the first lines above and 'problems' in compare.json)."
        )
    print(f"comparison folder: {result.out_dir}")
    return 0
