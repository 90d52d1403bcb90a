"""Encoder throughput on the CPU: batched ``encode_images`` against one image at a time (the tutorial's way).

Both run in the same process on the same real JPEGs, so the ratio holds even on a noisy machine.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmrag_lab.encoders import load_encoder  # noqa: E402

CLOTHING = ROOT.parent / "shared" / "datasets" / "clothing-dataset-small"


def clothing_images(count: int) -> list[str]:
    """The first ``count`` JPEGs of the clothing set (sorted, so every run uses the same files)."""
    root = Path(os.environ.get("MMRAG_BENCH_IMAGES", CLOTHING))
    files = sorted(str(p) for p in root.rglob("*.jpg"))
    if not files:
        raise SystemExit(f"No JPEGs under {root}; set MMRAG_BENCH_IMAGES to a folder of photos.")
    return files[:count]


def _rate(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def run(quick: bool = False) -> dict:
    count = 16 if quick else 64
    images = clothing_images(count)
    enc = load_encoder("visualized-bge-base", weights="untrained", device="cpu")
    enc.encode_images(images[:2])  # warm-up: allocator, kernels
    one_by_one = _rate(lambda: [enc.encode_images([p]) for p in images], len(images))
    rows = []
    for bs in (8, 16, 32):
        rows.append((bs, _rate(lambda bs=bs: enc.encode_images(images, batch_size=bs), len(images))))
    best_bs, best = max(rows, key=lambda r: r[1])
    low = load_encoder("visualized-bge-base", weights="untrained", device="cpu", dtype="bf16")
    low.encode_images(images[:2])
    bf16 = _rate(lambda: low.encode_images(images, batch_size=best_bs), len(images))
    lines = [
        f"`visualized-bge-base`, fp32, {len(images)} real JPEGs from the clothing set, "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), torch threads = "
        f"{__import__('torch').get_num_threads()}. Same process, same files.",
        "",
        "| method | images/s | vs one at a time |",
        "|---|---|---|",
        f"| one image at a time (tutorial) | {one_by_one:.2f} | 1.00x |",
    ]
    lines += [f"| `encode_images`, batch {bs} | {r:.2f} | {r / one_by_one:.2f}x |" for bs, r in rows]
    lines += [
        f"| `encode_images`, batch {best_bs}, `dtype='bf16'` (opt-in) | {bf16:.2f} | {bf16 / one_by_one:.2f}x |",
        "",
        f"Best fp32: batch {best_bs}, **{best / one_by_one:.2f}x** the one-at-a-time loop (target 1.4x). In fp32 "
        "the model is compute-bound even one image at a time (about 70 GFLOP per image), so batching adds "
        "little on two cores; bf16 (on CPUs with bf16 instructions) is the lever, at a cosine of about "
        "0.9996 to the fp32 vectors.",
    ]
    return {
        "title": "Encoder on CPU: batched vs one at a time",
        "markdown": "\n".join(lines),
        "results": {
            "images": len(images),
            "one_by_one_per_s": one_by_one,
            "batched": {str(bs): r for bs, r in rows},
            "best_ratio": best / one_by_one,
            "bf16_per_s": bf16,
            "bf16_ratio": bf16 / one_by_one,
        },
    }


def render_gpu(data: dict) -> dict:
    """Markdown for the JSON written by ``benchmarks/gpu_encoder.py`` on a GPU machine."""
    lines = [
        f"Measured on {data['device']} ({data['date']}, torch {data['torch']}), untrained weights "
        "(the same compute as the real ones), pixels already on the GPU (model only).",
        "",
        "Agreement with the upstream fp32 reference outputs (parity fixture; min cosine over its 3 inputs):",
        "",
        "| dtype | image | composed | text |",
        "|---|---|---|---|",
    ]
    for dtype, kinds in data["agreement"].items():
        cells = " | ".join(
            f"{kinds[k]['min_cosine_vs_reference']:.6f}" for k in ("image", "composed", "text")
        )
        lines.append(f"| {dtype} | {cells} |")
    lines += ["", "| dtype | batch | images/s | peak GPU memory (GiB) |", "|---|---|---|---|"]
    for row in data["throughput"]:
        rate = f"{row['images_per_s']:,.0f}" if row.get("images_per_s") else "OOM"
        mem = f"{row['peak_mem_gib']:.2f}" if row.get("peak_mem_gib") else "-"
        lines.append(f"| {row['dtype']} | {row['batch']} | {rate} | {mem} |")
    best = max(
        (r for r in data["throughput"] if r.get("images_per_s") and r["dtype"] != "fp32"),
        key=lambda r: r["images_per_s"],
    )
    lines += [
        "",
        f"Best: {best['dtype']} batch {best['batch']}: **{best['images_per_s']:,.0f} images/s** "
        f"(target 2,000; the tutorial's loop: 44/s), peak {best['peak_mem_gib']:.2f} GiB.",
    ]
    return {
        "title": "Encoder on an H100 GPU: fp16/bf16 agreement and model-only throughput",
        "markdown": "\n".join(lines),
        "results": data,
    }


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv)["markdown"])
