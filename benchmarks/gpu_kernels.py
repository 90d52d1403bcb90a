"""Where the GPU's time goes during ingest: the runner's own encode loop (GPU mapper, staging, compiled model,
vectors back) under ``torch.profiler``, its kernels summed per CUDA stream and per kind.

usage: python benchmarks/gpu_kernels.py OUT.json [--folder DIR] [--images 6000] [--preset visualized-bge-base]
           [--gpu-mappers 1,2]

Needs CUDA. The folder is the one ``gpu_ingest.py`` writes (photo-like 640x480 JPEGs). Nothing is written to
a store: the writer is the one role left out. The summary gives the wall time of the profiled loop, how much
of it the GPU was busy (the union of all kernel intervals), each stream's kernel time with its top kernels,
and the kernel time by kind: JPEG decoding (nvJPEG), the Pillow-exact resize (float64 matrix products and
element-wise work), and the rest (the model).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import nullcontext
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_stages as S  # noqa: E402

from mmrag_lab.encoders import load_encoder  # noqa: E402
from mmrag_lab.ingestion.encode_loop import RunOptions, _launch, _Merge, open_mappers  # noqa: E402
from mmrag_lab.ingestion.landing import Landing  # noqa: E402
from mmrag_lab.ingestion.staging import Staging  # noqa: E402


def kind_of(name: str) -> str:
    low = name.lower()
    if "jpeg" in low or "huffman" in low or "idct" in low:
        return "JPEG decoding (nvJPEG)"
    if "f64" in low or "dgemm" in low or "double" in low:
        return "float64 resize (Pillow-exact)"
    if "memcpy" in low or "memset" in low:
        return "copies"
    return "other kernels (the model, uint8 and float32 element-wise)"


def encode_loop(encoder, tasks, batch_size: int, mappers: int) -> int:
    options = RunOptions(batch_size=batch_size, progress=False, gpu_decode=True, gpu_mappers=mappers)
    staging = Staging(batch_size, encoder.image_size, encoder.device, pad=True)
    merged, landing, flight, done = _Merge(open_mappers(tasks, encoder, options)), Landing(), None, 0
    try:
        for batch in merged:
            if batch.pixels is not None and batch.tasks:
                launched = _launch(encoder, staging, landing, batch)
                if flight is not None:
                    done += len(landing.land(flight))
                flight = launched
        if flight is not None:
            done += len(landing.land(flight))
    finally:
        merged.close()
    return done


def summarise(trace: dict, wall_s: float, images: int) -> dict:
    kernels = [e for e in trace["traceEvents"] if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    per_stream: dict[str, Counter] = defaultdict(Counter)
    kinds: Counter = Counter()
    spans = []
    for event in kernels:
        stream = str(event.get("args", {}).get("stream", "?"))
        per_stream[stream][event["name"][:90]] += event["dur"]
        kinds[kind_of(event["name"])] += event["dur"]
        spans.append((event["ts"], event["ts"] + event["dur"]))
    busy, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            busy += stop - max(start, end)
            end = stop
    first = min((s for s, _ in spans), default=0.0)
    window_us = (max((e for _, e in spans), default=0.0) - first) or 1.0
    return {
        "images": images,
        "wall_s": wall_s,
        "images_per_s": images / wall_s,
        "gpu_busy_fraction_of_kernel_window": busy / window_us,
        "kernel_window_s": window_us / 1e6,
        "kernel_us_per_image_by_kind": {k: v / images for k, v in kinds.most_common()},
        "streams": {
            stream: {
                "kernel_s": sum(names.values()) / 1e6,
                "top": [[name, round(us / 1e3, 1)] for name, us in names.most_common(6)],
            }
            for stream, names in sorted(per_stream.items(), key=lambda item: -sum(item[1].values()))
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/mmrag_gpu_bench/images"))
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--preset", default="visualized-bge-base")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--eager", action="store_true", help="profile the eager model instead")
    parser.add_argument(
        "--gpu-mappers", default="1,2", help="GPU mapper counts to profile, one after another"
    )
    parser.add_argument("--device", default="cuda", help="cpu: a smoke run of the script itself")
    args = parser.parse_args()
    encoder = load_encoder(
        args.preset,
        weights="untrained",
        device=args.device,
        dtype="fp16" if args.device == "cuda" else "fp32",
    )
    sync = torch.cuda.synchronize if encoder.device.type == "cuda" else lambda: None
    tasks = S.plan_tasks(args.folder)[: args.images]
    result: dict = {"preset": args.preset, "compiled": not args.eager}
    with encoder.compiled(tempfile.gettempdir()) if not args.eager else nullcontext():
        encode_loop(encoder, tasks[: 4 * args.batch_size], args.batch_size, 1)  # compile, nvJPEG, caches
        for mappers in [int(n) for n in args.gpu_mappers.split(",")]:
            sync()
            activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
            with torch.profiler.profile(activities=activities) as prof:
                start = time.perf_counter()
                images = encode_loop(encoder, tasks, args.batch_size, mappers)
                sync()
                wall = time.perf_counter() - start
            with tempfile.NamedTemporaryFile(suffix=".json") as handle:
                prof.export_chrome_trace(handle.name)
                trace = json.loads(Path(handle.name).read_text())
            result[f"gpu_mappers_{mappers}"] = summarise(trace, wall, images)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2)[:3000])


if __name__ == "__main__":
    main()
