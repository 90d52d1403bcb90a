"""The pieces of ``gpu_ingest.py``: test files, each stage alone, agreement, and the no-overlap baseline."""

from __future__ import annotations

import os
import platform
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.ingestion.cpu_mapper import PrepareDataset, make_loader
from mmrag_lab.ingestion.gpu_decode import prepare_batch
from mmrag_lab.ingestion.reader import Task, read_one
from mmrag_lab.ingestion.scan import hash_files, scan_images
from mmrag_lab.ingestion.sidecar import load_sidecar
from mmrag_lab.ingestion.writer import make_rows
from mmrag_lab.store.vector_store import Store


def environment() -> dict:
    info = {"torch": torch.__version__, "cpu_count": os.cpu_count(), "python": platform.python_version()}
    info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    info["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return info


def write_photo(job: tuple[str, int, int, int]) -> None:
    """A photo-like JPEG: smooth gradients, a few shapes and sensor-like noise (compresses like a photo)."""
    path, width, height, seed = job
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


def generate(folder: Path, unique_dir: Path, count: int, unique: int, size=(640, 480)) -> float:
    """``count`` files from ``unique`` photos, each with its own JPEG comment (own hash, same decode work)."""
    start = time.perf_counter()
    unique_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(str(unique_dir / f"u{i:05d}.jpg"), *size, i) for i in range(unique)]
    missing = [job for job in jobs if not os.path.exists(job[0])]
    with ProcessPoolExecutor(os.cpu_count() or 4) as pool:
        list(pool.map(write_photo, missing, chunksize=8))
    bases = [Path(job[0]).read_bytes() for job in jobs]
    for i in range(count):
        comment = f"copy {i}".encode()
        data = bases[i % unique]
        sub = folder / f"part{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        (sub / f"img_{i:06d}.jpg").write_bytes(data[:2] + segment + data[2:])
    return time.perf_counter() - start


def plan_tasks(folder: Path) -> list[Task]:
    scan = scan_images(folder)
    return [Task(f, h) for f, h in zip(scan.files, hash_files(scan.files, 16), strict=True)]


def _read_all(tasks: list[Task]) -> list[bytes]:
    with ThreadPoolExecutor(8) as pool:
        return [data for data, _ in pool.map(read_one, tasks)]


def _gpu_decode_loop(chunks, prep, device, stream, stop=None) -> int:
    done = 0
    with torch.cuda.stream(stream) if stream is not None else nullcontext():
        for chunk in chunks:
            if stop is not None and stop.is_set():
                break
            done += len(prepare_batch(chunk, prep, device).ok)
    if stream is not None:
        stream.synchronize()
    return done


def stage_rates(tasks: list[Task], encoder, args, workdir: Path) -> dict:
    size, bs, device = encoder.image_size, args.batch_size, encoder.device
    prep = encoder.preprocessing
    finish = prep.finish
    out = {}
    start = time.perf_counter()
    datas = _read_all(tasks)
    out["read_hash_per_s"] = len(tasks) / (time.perf_counter() - start)
    loader = make_loader(PrepareDataset(tasks, prep), bs, args.workers)
    start, n = time.perf_counter(), 0
    for batch in loader:
        n += len(batch.tasks)
    out["cpu_decode_per_s"] = n / (time.perf_counter() - start)
    chunks = [datas[i : i + bs] for i in range(0, len(datas), bs)]
    stream = torch.cuda.Stream(device) if device.type == "cuda" else None
    _gpu_decode_loop(chunks[:2], prep, device, stream)  # warm-up: nvJPEG handles, weights caches
    start = time.perf_counter()
    n = _gpu_decode_loop(chunks, prep, device, stream)
    out["gpu_decode_per_s"] = n / (time.perf_counter() - start)
    routes = prepare_batch(chunks[0], prep, device).route
    out["gpu_routes_first_batch"] = {r: list(routes.values()).count(r) for r in set(routes.values())}
    out["model_per_s"] = model_rate(encoder, finish, bs, size)
    out["model_compiled"] = compiled_rate(encoder, finish, bs, size, workdir / "compile_cache")
    out["model_compiled_graphs"] = compiled_rate(  # the whole forward replayed as CUDA graphs
        encoder, finish, bs, size, workdir / "compile_cache", mode="reduce-overhead"
    )
    stop = threading.Event()
    box = {}
    side = threading.Thread(
        target=lambda: box.update(n=_gpu_decode_loop(chunks * 50, prep, device, stream, stop))
    )
    side.start()
    time.sleep(0.5)
    out["model_while_gpu_decoding_per_s"] = model_rate(encoder, finish, bs, size)
    stop.set()
    side.join()
    stores = {} if getattr(args, "no_lite", False) else {"lite": str(workdir / "insert.db")}
    stores |= {"server": args.server_uri} if args.server_uri else {}
    for name, uri in stores.items():  # plain upserts, then the ingest writer's (a look-up per batch)
        out[f"insert_{name}_rows_per_s"] = insert_rate(uri, encoder.dim, bs)
        out[f"insert_new_{name}_rows_per_s"] = insert_rate(uri, encoder.dim, bs, counted=True)
    return out


def model_rate(encoder, finish, bs: int, size: int, seconds: float = 4.0) -> float:
    pixels = torch.randint(0, 256, (bs, 3, size, size), dtype=torch.uint8, device=encoder.device)
    for _ in range(2):
        encoder.encode_pixels(finish(pixels))
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        encoder.encode_pixels(finish(pixels))  # returns numpy: each call includes the copy back
        n += bs
    return n / (time.perf_counter() - start)


def compiled_rate(encoder, finish, bs: int, size: int, cache_dir: Path, mode: str = "default") -> dict:
    """The model compiled by ``torch.compile`` (the ingest path): first call, images/s, agreement with eager."""
    pixels = torch.randint(0, 256, (bs, 3, size, size), dtype=torch.uint8, device=encoder.device)
    eager = encoder.encode_pixels(finish(pixels))
    with encoder.compiled(str(cache_dir), mode):
        start = time.perf_counter()
        first = encoder.encode_pixels(finish(pixels))
        first_call_s = time.perf_counter() - start
        rate = model_rate(encoder, finish, bs, size)
    a, b = eager.astype(np.float64), first.astype(np.float64)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {"first_call_s": first_call_s, "images_per_s": rate, "min_cosine_vs_eager": float(cos.min())}


def insert_rate(uri: str, dim: int, bs: int, count: int = 12_800, counted: bool = False) -> float:
    """Rows/s of upserts in batches of ``bs``; ``counted``: through ``Store.insert_new``, as ingest writes."""
    info = EncoderInfo("bench-random", dim, True, "random", "random")
    vectors = np.random.default_rng(0).standard_normal((count, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [{"id": f"{i:064x}", "vector": v, "path": f"/x/{i}.jpg", "width": 640, "height": 480,
             "file_size": 60_000, "meta": {}, "root": "x", "rel_path": f"{i}.jpg", "content_hash": f"{i:064x}"}
            for i, v in enumerate(vectors)]  # fmt: skip
    config = Config.load(env={}, milvus_uri=uri, collection="insert_only")
    with Store.open(config) as store:
        store.ensure_collection(info)
        start = time.perf_counter()
        for begin in range(0, count, bs):
            (store.insert_new if counted else store.insert)(rows[begin : begin + bs])
        rate = count / (time.perf_counter() - start)
        store.drop()
    return rate


def agreement(photos: list[Path], device: str, preset: str, limit: int = 400) -> dict:
    """Cosine between embeddings of the CPU path's pixels and the GPU path's, fp32 and fp16 encoders."""
    from mmrag_lab.encoders import load_encoder

    datas = [p.read_bytes() for p in photos[:limit]]
    out = {"photos": len(datas)}
    for dtype in ("fp32", "fp16") if device.startswith("cuda") else ("fp32",):
        torch.manual_seed(0)
        enc = load_encoder(preset, weights="untrained", device=device, dtype=dtype)
        prep = enc.preprocessing
        finish = prep.finish
        cpu = torch.stack([prep.to_uint8(prep.load(d)) for d in datas])
        gpu = prepare_batch(datas, prep, device)
        assert gpu.ok == list(range(len(datas))), gpu.errors
        diff = (gpu.pixels.cpu().long() - cpu.long()).abs()
        a = np.concatenate(
            [enc.encode_pixels(finish(cpu[i : i + 64].to(device))) for i in range(0, len(cpu), 64)]
        )
        b = np.concatenate(
            [enc.encode_pixels(finish(gpu.pixels[i : i + 64])) for i in range(0, len(cpu), 64)]
        )
        again = np.concatenate(
            [enc.encode_pixels(finish(cpu[i : i + 64].to(device))) for i in range(0, len(cpu), 64)]
        )
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        noise = (a * again).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(again, axis=1)
        out[dtype] = {"min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()),
                      "same_pixels_twice_min_cosine": float(noise.min()),
                      "pixel_max_abs_diff": int(diff.max()), "pixel_frac_differing": float((diff > 0).float().mean()),
                      "routes": {r: list(gpu.route.values()).count(r) for r in set(gpu.route.values())}}  # fmt: skip
        del enc
        torch.cuda.empty_cache()
    return out


def sequential(folder: Path, uri: str, encoder, bs: int) -> dict:
    """GPU decode with no overlap: read, decode + preprocess, encode, upsert, one after another per batch."""
    finish = encoder.preprocessing.finish
    config = Config.load(env={}, milvus_uri=uri, collection="e2e_sequential")
    sidecar = load_sidecar(None)
    with Store.open(config) as store:
        store.ensure_collection(encoder.info)
        start = time.perf_counter()
        tasks = plan_tasks(folder)
        for begin in range(0, len(tasks), bs):
            chunk = tasks[begin : begin + bs]
            datas = [Path(os.fsdecode(t.file.path)).read_bytes() for t in chunk]
            prepared = prepare_batch(datas, encoder.preprocessing, encoder.device)
            vectors = encoder.encode_pixels(finish(prepared.pixels))
            ok = prepared.ok
            rows = make_rows([chunk[i] for i in ok], vectors, [prepared.sizes[i] for i in ok], sidecar)
            store.insert(rows)
        seconds = time.perf_counter() - start
        store.drop()
    return {"pipeline_images_per_s": len(tasks) / seconds, "ingested": len(tasks)}


def drop(config: Config) -> None:
    with Store.open(config) as store:
        store.drop()
