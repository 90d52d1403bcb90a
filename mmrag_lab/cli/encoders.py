"""``mmrag encoders``: the encoder presets, what each is, its size, where its weights come from."""

from __future__ import annotations

import argparse
import json

PUBLISHED_NOTE = "published, not measured here"


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "encoders",
        help="list the encoder presets (MMRAG_ENCODER, --encoder, ENCODER=)",
        description=(
            "List every encoder preset: dimension, query kinds, composed-query fusion, parameter count, "
            f"where its weights come from, licence, and the authors' zero-shot CIR figures ({PUBLISHED_NOTE})."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)
    return parser


def listing() -> list[dict]:
    """One plain record per preset, in table order."""
    from mmrag_lab.encoders.base import QUERY_KINDS
    from mmrag_lab.encoders.presets import PRESETS

    rows = []
    for preset in PRESETS.values():
        if preset.hub_repo is None:
            source = "none (untrained only)"
        elif preset.checkpoint:
            source = f"{preset.hub_repo}/{preset.checkpoint}"
        else:
            source = preset.hub_repo
        rows.append(
            {
                "preset": preset.name,
                "about": preset.about,
                "dim": preset.dim,
                "query_kinds": list(QUERY_KINDS),
                "fusion": "joint" if preset.family == "visualized-bge" else "sum",
                "params": preset.params,
                "weights": source,
                "license": preset.license,
                "published": {name: value for name, value in preset.published},
                "published_note": PUBLISHED_NOTE if preset.published else "",
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    rows = listing()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'preset':<20} {'dim':>5} {'params':>8}  {'fusion':<6} {'query kinds':<21} weights")
    for row in rows:
        size = f"{row['params'] / 1e6:.0f} M" if row["params"] else "?"
        kinds = ",".join(row["query_kinds"])
        print(
            f"{row['preset']:<20} {row['dim']:>5} {size:>8}  {row['fusion']:<6} {kinds:<21} {row['weights']}"
        )
        print(f"{'':<20} {row['about']} ({row['license']})")
        if row["published"]:
            figures = ", ".join(f"{k} {v}" for k, v in row["published"].items())
            print(f"{'':<20} {figures} ({PUBLISHED_NOTE})")
    return 0
