"""End-to-end ingest on the CPU: this pipeline against the tutorial's way, in the same run on the same files.

The tutorial's way: ``encode_images([path])`` for one image at a time, then a single ``insert`` of every row
into a quick-setup collection (auto id, dynamic fields, no flush). Ours: ``mmrag_lab.ingestion.pipeline`` on the
folder (scan, hash, skip stored, decode in a worker process, batched encoding, batched upserts, flush +
load). Both use the same ``visualized-bge-base`` encoder (untrained weights: the same compute as the real
ones) on the clothing photos, each into a fresh Milvus Lite file. A re-run of each shows what happens the
second time: ours skips every stored image, the tutorial's insert cell duplicates every row.

``render_gpu`` turns the JSON of ``benchmarks/gpu_ingest.py`` (run on a GPU machine) into its section.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # before gRPC loads: no INFO line per forked worker

import numpy as np  # noqa: E402
from pymilvus import MilvusClient  # noqa: E402

from mmrag_lab.config import Config  # noqa: E402
from mmrag_lab.encoders import load_encoder  # noqa: E402
from mmrag_lab.ingestion.options import IngestOptions  # noqa: E402
from mmrag_lab.ingestion.pipeline import ingest  # noqa: E402

CLOTHING = ROOT.parent / "shared" / "datasets" / "clothing-dataset-small"
ALL_IMAGES = 3781
BF16_IMAGES = 384  # the bf16 row runs on the first images only, to keep `make bench` short


def copy_images(count: int, target: Path) -> list[Path]:
    """Copy the first ``count`` clothing JPEGs (sorted) into ``target``, keeping their relative paths."""
    source = Path(os.environ.get("MMRAG_BENCH_IMAGES", CLOTHING))
    files = sorted(source.rglob("*.jpg"))[:count]
    if not files:
        raise SystemExit(f"No JPEGs under {source}; set MMRAG_BENCH_IMAGES to a folder of photos.")
    copies = []
    for path in files:
        copy = target / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        copies.append(copy)
    return copies


def tutorial_way(files: list[Path], encoder, uri: str) -> dict:
    """One image at a time through the encoder, then one insert, as the tutorial's notebook does."""
    start = time.perf_counter()
    vectors = {str(path): encoder.encode_images([str(path)])[0] for path in files}
    client = MilvusClient(uri=uri)
    client.create_collection("tutorial", dimension=encoder.dim, auto_id=True, enable_dynamic_field=True)
    rows = [{"image_path": path, "vector": vector.tolist()} for path, vector in vectors.items()]
    client.insert("tutorial", rows)
    seconds = time.perf_counter() - start
    client.insert("tutorial", rows)  # the notebook's insert cell, run a second time
    rerun_rows = client.query("tutorial", filter="", output_fields=["count(*)"])[0]["count(*)"]
    client.close()
    return {"seconds": seconds, "per_s": len(files) / seconds, "rows_after_rerun": rerun_rows}


def our_way(folder: Path, encoder, uri: str, workers: int | None, batch_size: int) -> dict:
    config = Config.load(env={}, milvus_uri=uri, collection="ours")
    first = ingest(
        folder,
        config=config,
        encoder=encoder,
        options=IngestOptions(workers=workers),
        batch_size=batch_size,
        progress=False,
    )
    again = ingest(
        folder,
        config=config,
        encoder=encoder,
        options=IngestOptions(workers=workers),
        batch_size=batch_size,
        progress=False,
    )
    return {
        "seconds": first.duration_s,
        "per_s": first.ingested / first.duration_s,
        "ingested": first.ingested,
        "failed": len(first.failed),
        "phases_s": first.phases_s,
        "rerun_ingested": again.ingested,
        "rerun_seconds": again.duration_s,
    }


def bf16_way(files: list[Path], fp32_encoder, workdir: Path, workers: int | None, batch_size: int) -> dict:
    """Ours again with the encoder in bf16 (AVX512-BF16 CPUs), and how close its vectors are to fp32."""
    encoder = load_encoder("visualized-bge-base", weights="untrained", device="cpu", dtype="bf16")
    folder = workdir / "bf16_images"
    for path in files:
        copy = folder / path.relative_to(workdir / "images")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    sample = [str(p) for p in files[:8]]
    cosines = (encoder.encode_images(sample) * fp32_encoder.encode_images(sample)).sum(axis=1)
    result = our_way(folder, encoder, str(workdir / "bf16.db"), workers, batch_size)
    return result | {"images": len(files), "min_cosine_vs_fp32": float(np.min(cosines))}


def run(
    quick: bool = False, count: int | None = None, workers: int | None = None, batch_size: int = 16
) -> dict:
    """Measure both ways on ``count`` images (default all 3,781; 48 in quick mode)."""
    count = count or (48 if quick else ALL_IMAGES)
    encoder = load_encoder("visualized-bge-base", weights="untrained", device="cpu")
    with tempfile.TemporaryDirectory(prefix="mmrag_bench_ingest_") as workdir:
        work = Path(workdir)
        files = copy_images(count, work / "images")
        encoder.encode_images([str(files[0])])  # warm-up: allocator and kernels, outside both timings
        ours = our_way(work / "images", encoder, str(work / "ours.db"), workers, batch_size)
        tutorial = tutorial_way(files, encoder, str(work / "tutorial.db"))
        bf16 = bf16_way(files[:BF16_IMAGES], encoder, work, workers, batch_size)
    ratio = ours["per_s"] / tutorial["per_s"]
    results = {"images": len(files), "batch_size": batch_size, "workers": workers, "ours": ours}
    results.update(tutorial=tutorial, ratio=ratio, cores=os.cpu_count(), bf16=bf16)
    return {
        "title": "Ingest on CPU: mmrag_lab.ingestion.pipeline vs the tutorial's loop",
        "markdown": render_cpu(results),
        "results": results,
    }


def render_cpu(r: dict) -> str:
    ours, tutorial, bf16 = r["ours"], r["tutorial"], r["bf16"]
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in ours["phases_s"].items())
    return "\n".join(
        [
            f"{r['images']:,} clothing JPEGs, `visualized-bge-base` fp32 on {r['cores']} CPU cores, each way "
            "into a fresh Milvus Lite file, same process, same files.",
            "",
            "| way | wall time | images/s | vs tutorial | second run |",
            "|---|---|---|---|---|",
            f"| tutorial: one image at a time, one insert | {tutorial['seconds']:.1f} s | "
            f"{tutorial['per_s']:.2f} | 1.00x | insert again: {tutorial['rows_after_rerun']:,} rows "
            f"for {r['images']:,} images |",
            f"| `mmrag_lab.ingestion.pipeline` (batch {r['batch_size']}, workers {r['workers'] or 'default'}) | "
            f"{ours['seconds']:.1f} s | {ours['per_s']:.2f} | **{r['ratio']:.2f}x** | "
            f"{ours['rerun_ingested']} ingested in {ours['rerun_seconds']:.1f} s |",
            f"| `mmrag_lab.ingestion.pipeline --dtype bf16` (first {bf16['images']:,} images) | {bf16['seconds']:.1f} s | "
            f"{bf16['per_s']:.2f} | {bf16['per_s'] / tutorial['per_s']:.2f}x | "
            f"{bf16['rerun_ingested']} ingested |",
            "",
            f"Our phases: {phases}. Target: 1.5x the tutorial at the same precision (fp32). bf16 vectors "
            f"agree with fp32 ones to a cosine of at least {bf16['min_cosine_vs_fp32']:.4f} (8 images); a "
            "collection should hold vectors of one precision.",
        ]
    )


def render_gpu(data: dict) -> dict:
    """The section for the JSON written by ``benchmarks/gpu_ingest.py`` on a GPU machine."""
    p = data["params"]
    rows = [
        ("decode + preprocess only (workers, full decode)", data["decode_full_per_s"]),
        ("decode + preprocess only (workers, draft decode)", data["decode_draft_per_s"]),
        ("host to GPU transfer + normalise (uint8 batches)", data["transfer_per_s"]),
        (f"model only ({p['dtype']}, batch {p['batch_size']})", data["model_per_s"]),
        ("Milvus Lite upserts only (rows/s)", data["insert_rows_per_s"]),
    ]
    for key, label in (("end_to_end_full", "full decode"), ("end_to_end_draft", "`fast_decode=True`")):
        run = data[key]
        rows.append((f"**ingest pipeline, {label}** (scan to last upsert)", run["pipeline_images_per_s"]))
        rows.append((f"whole `ingest()` call, {label}, with the final HNSW build", run["images_per_s"]))
    lines = [
        f"{p['images']:,} generated {p['width']}x{p['height']} JPEGs on disk, `visualized-bge-base` "
        f"(untrained weights, same compute) in {p['dtype']} on {data['device']}, {p['workers']} decode "
        f"workers on {data['cpu_count']} CPU cores ({data['cpu_model']}), into Milvus Lite. torch "
        f"{data['torch']}, {data['date']}.",
        "",
        "| stage | images/s |",
        "|---|---|",
        *[f"| {name} | {rate:,.0f} |" for name, rate in rows],
        "",
        f"Slowest stage on its own: **{data['bound']}**. Target: 2,000 images/s end to end. The final "
        f"index build of the fast run took {data['end_to_end_draft']['phases_s'].get('flush', 0):.1f} s.",
        "",
        "Why the whole is slower than its slowest stage: the stages above were each measured alone, with the "
        "machine to themselves. In the pipeline the decode workers, the encoder loop, the row-writer process "
        "and Milvus Lite's own process share the same cores; an instrumented run on the same machine (an "
        "earlier build with the writer in-process) timed the encoder call inside the pipeline at about "
        "1,200-1,500 images/s against 3,226 alone, so the GPU waits on a CPU-starved launch loop as well as on "
        "decoding. Moving JPEG decoding and resizing to the GPU (nvJPEG) would free those cores; it is not "
        "built yet.",
    ]
    return {
        "title": "Ingest on an H100 GPU: end to end from JPEG files",
        "markdown": "\n".join(lines),
        "results": data,
    }


if __name__ == "__main__":
    size = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--count=")), None)
    print(run(quick="--quick" in sys.argv, count=size)["markdown"])
