"""`make bench`: run the CPU benchmarks on this machine and write BENCHMARKS.md.

Each section's result is kept in benchmarks/results/<name>.json, so `--only NAME` re-measures one section and
the page is re-stitched from the rest. GPU sections are measured on a GPU machine by the scripts
benchmarks/gpu_*.py, whose JSON is kept in benchmarks/results/gpu_*.json and rendered here. Sections written by
hand from GPU runs are benchmarks/results/gpu_r<round>_<topic>_<card>.md (the card they were measured on, e.g.
h200 or h100), stitched in round order.

usage: python benchmarks/run.py [--quick] [--only NAME ...] [--images N] [--encoder PRESET] [--render-only]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

# section name -> module in benchmarks/ exposing run(quick) -> {"title", "markdown", "results"}
CPU_SECTIONS = {
    "encoder_cpu": "bench_encoder",
    "ingest_cpu": "bench_ingest",
    "milvus_scale": "bench_search_scale",
    "query_cpu": "bench_query",
    "lite_shared": "bench_lite_shared",
    "eval_exact": "bench_eval",
    "reingest_cpu": "bench_reingest",
    "app_visitors": "app_visitors",
    "hybrid_feedback": "bench_hybrid",
}
# GPU result file -> (module, renderer)
GPU_SECTIONS = {
    "gpu_encoder.json": ("bench_encoder", "render_gpu"),
    "gpu_ingest.json": ("bench_ingest", "render_gpu"),
    "gpu_eval.json": ("bench_eval", "render_gpu"),
    "gpu_ingest_h200.json": ("gpu_ingest", "render"),
}
# a hand-written GPU section: gpu_r<round>_<topic>_<card>.md, e.g. gpu_r7_ray_engines_h100.md
GPU_NOTE = re.compile(r"gpu_r(?P<round>\d+)_(?P<topic>[a-z0-9_]+)_(?P<card>[a-z0-9-]+)\.md")


def gpu_notes() -> list[Path]:
    """The hand-written GPU sections in benchmarks/results/, in round order (r2 before r10)."""
    found = []
    for path in RESULTS.glob("gpu_*.md"):
        match = GPU_NOTE.fullmatch(path.name)
        if not match:
            raise SystemExit(f"{path}: name a hand-written GPU section gpu_r<round>_<topic>_<card>.md")
        found.append((int(match["round"]), path.name, path))
    return [path for _, _, path in sorted(found)]


def machine() -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.machine(),
        )
        if Path("/proc/cpuinfo").exists()
        else ""
    )
    return (
        f"{os.cpu_count()} CPU cores ({model}), Python {platform.python_version()}, "
        f"commit {commit.stdout.strip() or '?'}, {time.strftime('%Y-%m-%d %H:%M')}"
    )


def measure(names: list[str], quick: bool, images: int | None = None, encoder: str | None = None) -> None:
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        module = importlib.import_module(CPU_SECTIONS[name])
        print(f"== {name} ...", flush=True)
        accepts = inspect.signature(module.run).parameters
        given = {"count": images, "encoder": encoder}
        section = module.run(quick=quick, **{k: v for k, v in given.items() if v and k in accepts})
        section.update(machine=machine(), quick=quick)
        (RESULTS / f"{name}.json").write_text(json.dumps(section, indent=2, default=str))
        print(section["markdown"], flush=True)


def render() -> str:
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench`. CPU sections compare against a baseline measured in the same run "
        "(ratios, since these 2-core machines are noisy); absolute times come only from the GPU sections.",
        "",
    ]
    for name in CPU_SECTIONS:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            parts += [f"## {name}", "", "_Not measured yet: run `make bench`._", ""]
            continue
        section = json.loads(path.read_text())
        quick = " (quick run)" if section.get("quick") else ""
        parts += [
            f"## {section['title']}",
            "",
            f"_Machine: {section['machine']}{quick}._",
            "",
            section["markdown"],
            "",
        ]
    for file, (module_name, fn) in GPU_SECTIONS.items():
        path = RESULTS / file
        if path.exists():
            section = getattr(importlib.import_module(module_name), fn)(json.loads(path.read_text()))
            parts += [f"## {section['title']}", "", section["markdown"], ""]
    for path in gpu_notes():  # sections written by hand from GPU runs, in round order
        parts += [path.read_text().rstrip(), ""]
    for path in sorted(RESULTS.glob("note_*.md")):  # figures that code comments once quoted, kept by hand
        parts += [path.read_text().rstrip(), ""]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", nargs="+", choices=sorted(CPU_SECTIONS), help="sections to re-measure")
    parser.add_argument(
        "--images", type=int, help="images for the CPU ingest comparison (default: all 3,781)"
    )
    parser.add_argument(
        "--encoder", help="encoder preset for the re-ingest section (default tiny, untrained)"
    )
    parser.add_argument(
        "--render-only", action="store_true", help="re-stitch BENCHMARKS.md from saved results"
    )
    args = parser.parse_args()
    if not args.render_only:
        measure(args.only or list(CPU_SECTIONS), args.quick, args.images, args.encoder)
    (ROOT / "BENCHMARKS.md").write_text(render())
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
