"""GPU ingest benchmark: end-to-end images/s from JPEG files on disk into Milvus Lite, and what bounds it.

usage: python benchmarks/gpu_ingest.py OUT.json [--images 20000] [--size 640x480] [--batch-size 256]
                                                [--workers N] [--dtype fp16] [--keep DIR]

Needs a CUDA GPU, torch + torchvision, pymilvus + milvus-lite, Pillow and tqdm; no weights (the
``visualized-bge-base`` preset runs on untrained weights, the same compute as the real ones). It writes
N photo-like JPEGs, then measures, each on its own:

* decode + preprocess in the worker processes (full decode, and JPEG draft decode), no model;
* host-to-GPU transfer of uint8 batches plus normalisation;
* the model alone on pixels already on the GPU;
* Milvus Lite upserts alone;

and then the whole pipeline, ``mmrag_lab.ingestion.pipeline``, with full and with draft decoding. The slowest stage
alone is named as the bound.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # before gRPC loads: no INFO line per forked worker

from mmrag_lab.config import Config  # noqa: E402
from mmrag_lab.encoders import load_encoder  # noqa: E402
from mmrag_lab.encoders.base import EncoderInfo  # noqa: E402
from mmrag_lab.ingestion.pipeline import ingest  # noqa: E402
from mmrag_lab.ingestion.prepare import PrepareDataset, Task, make_loader, split_transform  # noqa: E402
from mmrag_lab.ingestion.scan import hash_files, scan_images  # noqa: E402
from mmrag_lab.store.collection import Store  # noqa: E402


def write_photo(args: tuple[str, int, int, int]) -> None:
    """A photo-like JPEG: smooth gradients, a few shapes and sensor-like noise (compresses like a photo)."""
    path, width, height, seed = args
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    colours = rng.uniform(0, 255, (3, 3))
    base = np.stack([c[0] + (c[1] - c[0]) * x / width + (c[2] - c[0]) * y / height for c in colours], -1)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        box = [x0, y0, x0 + rng.integers(20, width // 2), y0 + rng.integers(20, height // 2)]
        draw.ellipse(box, fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    noisy = np.asarray(image, np.float32) + rng.normal(0, 6, (height, width, 3))
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)


def generate(folder: Path, count: int, width: int, height: int, processes: int) -> float:
    jobs = []
    for i in range(count):
        sub = folder / f"part{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        jobs.append((str(sub / f"img_{i:06d}.jpg"), width, height, i))
    start = time.perf_counter()
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(write_photo, jobs, chunksize=64))
    return time.perf_counter() - start


def decode_only(tasks: list[Task], transform, batch_size: int, workers: int, draft: int | None) -> float:
    loader = make_loader(PrepareDataset(tasks, transform, draft), batch_size, workers, pin_memory=True)
    start, n = time.perf_counter(), 0
    for batch in loader:
        n += len(batch.tasks)
    return n / (time.perf_counter() - start)


def transfer_only(finish, batch_size: int, size: int, repeats: int = 50) -> float:
    host = torch.randint(0, 256, (batch_size, 3, size, size), dtype=torch.uint8).pin_memory()
    finish(host.cuda())
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        finish(host.to("cuda", non_blocking=True))
    torch.cuda.synchronize()
    return repeats * batch_size / (time.perf_counter() - start)


def model_only(encoder, batch_size: int, size: int, seconds: float = 5.0) -> float:
    pixels = torch.randn(batch_size, 3, size, size, device="cuda")
    for _ in range(2):
        encoder.encode_pixels(pixels)
    torch.cuda.synchronize()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        encoder.encode_pixels(pixels)  # returns numpy, so each call includes the copy back
        n += batch_size
    return n / (time.perf_counter() - start)


def insert_only(workdir: Path, count: int, dim: int) -> float:
    info = EncoderInfo("bench-random", dim, True, "random", "random")
    vectors = np.random.default_rng(0).standard_normal((count, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [
        {"id": f"{i:064x}", "vector": v, "path": f"/x/{i}.jpg", "width": 640, "height": 480}
        | {"file_size": 60_000, "meta": {}}
        for i, v in enumerate(vectors)
    ]
    config = Config.load(env={}, milvus_uri=str(workdir / "insert.db"), collection="insert_only")
    with Store.open(config) as store:
        store.ensure_collection(info)
        start = time.perf_counter()
        for begin in range(0, count, 256):  # the pipeline's batch size: one upsert per encoded batch
            store.insert(rows[begin : begin + 256])
        return count / (time.perf_counter() - start)


def end_to_end(folder: Path, workdir: Path, name: str, encoder, args, fast: bool) -> dict:
    config = Config.load(env={}, milvus_uri=str(workdir / f"{name}.db"), collection=name)
    report = ingest(
        folder,
        config=config,
        encoder=encoder,
        batch_size=args.batch_size,
        workers=args.workers,
        progress=False,
        fast_decode=fast,
    )
    pipeline_s = sum(report.phases_s[k] for k in ("scan", "hash", "encode"))
    return {
        "images_per_s": report.images_per_s,
        "pipeline_images_per_s": report.ingested / pipeline_s if pipeline_s else 0.0,
        "ingested": report.ingested,
        "failed": len(report.failed),
        "duration_s": report.duration_s,
        "phases_s": report.phases_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="where to write the results JSON")
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the generated JPEGs")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 4) - 2))
    parser.add_argument("--dtype", default="fp16")
    parser.add_argument("--keep", type=Path, help="keep the JPEGs and databases in this folder")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("No CUDA GPU: this benchmark measures GPU ingest.")
    width, height = map(int, args.size.lower().split("x"))
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="mmrag_gpu_ingest_"))
    folder = workdir / "images"
    out = {"params": vars(args) | {"images": args.images, "width": width, "height": height}}
    out["params"] = {k: str(v) if isinstance(v, Path) else v for k, v in out["params"].items()}
    out["generate_s"] = generate(folder, args.images, width, height, os.cpu_count() or 4)
    print(f"generated {args.images} JPEGs in {out['generate_s']:.1f} s", flush=True)

    encoder = load_encoder("visualized-bge-base", weights="untrained", device="cuda", dtype=args.dtype)
    size = encoder.image_size
    transform, finish = split_transform(encoder.transform)
    scan = scan_images(folder)
    tasks = [Task(f, h) for f, h in zip(scan.files, hash_files(scan.files, 16), strict=True)]
    out["decode_full_per_s"] = decode_only(tasks, transform, args.batch_size, args.workers, None)
    out["decode_draft_per_s"] = decode_only(tasks, transform, args.batch_size, args.workers, size)
    out["transfer_per_s"] = transfer_only(finish, args.batch_size, size)
    out["model_per_s"] = model_only(encoder, args.batch_size, size)
    out["insert_rows_per_s"] = insert_only(workdir, min(args.images, 20_000), encoder.dim)
    for stage in (
        "decode_full_per_s",
        "decode_draft_per_s",
        "transfer_per_s",
        "model_per_s",
        "insert_rows_per_s",
    ):
        print(f"{stage}: {out[stage]:,.0f}", flush=True)
    out["end_to_end_full"] = end_to_end(folder, workdir, "full", encoder, args, fast=False)
    print("end to end, full decode:", out["end_to_end_full"], flush=True)
    out["end_to_end_draft"] = end_to_end(folder, workdir, "draft", encoder, args, fast=True)
    print("end to end, draft decode:", out["end_to_end_draft"], flush=True)

    stages = {
        "decode (CPU workers, draft JPEG decode)": out["decode_draft_per_s"],
        "host-to-GPU transfer": out["transfer_per_s"],
        "model": out["model_per_s"],
        "Milvus Lite upserts": out["insert_rows_per_s"],
    }
    out["bound"] = min(stages, key=stages.get)
    out.update(
        device=torch.cuda.get_device_name(0),
        torch=torch.__version__,
        python=platform.python_version(),
        cpu_count=os.cpu_count(),
        cpu_model=_cpu_model(),
        date=time.strftime("%Y-%m-%d"),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"bound: {out['bound']}; wrote {args.out}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


if __name__ == "__main__":
    main()
