"""GPU ingest benchmark: end to end from JPEG files on disk into Milvus, each stage alone, GPU/CPU agreement,
and the scaling from one GPU to two.

usage: python benchmarks/gpu_ingest.py OUT.json [--images 12000] [--unique 1000] [--photos DIR]
           [--server-uri http://127.0.0.1:19530] [--scaling-images 36000] [--workers 14] [--quick]

Needs CUDA, torch + torchvision, pymilvus + milvus-lite, Pillow; no weights (``visualized-bge-base`` on
untrained weights has the real compute). It writes ``--unique`` photo-like 640x480 JPEGs and ``--images``
files made of them, each with its own comment segment (so each has its own hash; decoding costs the same),
then measures:

* stages alone: reading bytes (threads), CPU decode workers, GPU decode + preprocess, the model (fp16,
  batch 256), the model while GPU decoding runs beside it (does nvJPEG take its multiprocessors?), inserts;
* agreement: embeddings of real photos (``--photos``) through the CPU path and the GPU path, min/mean cosine;
* end to end into Milvus Lite and, with ``--server-uri``, a Milvus 2.3.5 server: CPU decode (the default
  before), GPU decode with no overlap (one stage after another), GPU decode with overlap, and with a CPU share,
  eager and compiled (torch's ``default`` mode; ``..._graphs``: ``reduce-overhead``, ingest's default, which
  replays CUDA graphs); ``..._hashed`` ingests into a collection that already holds another folder's row, so
  its plan hashes every file first (a first ingest hashes as it reads);
* ``mmrag ingest --devices cuda:0`` against ``cuda:0,cuda:1`` on ``--scaling-images`` files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import gpu_stages as S  # noqa: E402

from mmrag_lab.config import Config  # noqa: E402
from mmrag_lab.encoders import load_encoder  # noqa: E402
from mmrag_lab.ingestion.options import IngestOptions  # noqa: E402
from mmrag_lab.ingestion.pipeline import ingest  # noqa: E402


def end_to_end(
    folder: Path, uri: str, name: str, encoder, args, beside: Path | None = None, **options
) -> dict:
    """One ``ingest`` of ``folder`` into a new collection; with ``beside``, that folder is ingested first, so
    the collection holds another folder's rows and the plan hashes every file (a first ingest does not)."""
    collection = f"e2e_{args.preset.replace('-', '_')}_{name}"  # presets differ in dimension
    mode = options.pop("compile_mode", "default")
    config = Config.load(
        env={}, milvus_uri=uri, collection=collection, batch_size=args.batch_size, compile_mode=mode
    )
    S.drop(config)  # a run cut off earlier may have left it behind
    if beside is not None:
        ingest(
            beside,
            config=config,
            encoder=encoder,
            progress=False,
            options=IngestOptions(gpu_decode=False, workers=0, compile=False),
        )
    report = ingest(folder, config=config, encoder=encoder, progress=False, options=IngestOptions(**options))
    pipeline_s = sum(report.phases_s.get(k, 0.0) for k in ("scan", "hash", "copy", "update", "encode"))
    S.drop(config)
    return {
        "pipeline_images_per_s": report.ingested / pipeline_s if pipeline_s else 0.0,
        "encode_images_per_s": report.ingested / report.phases_s["encode"],
        "images_per_s": report.images_per_s,
        "ingested": report.ingested,
        "failed": len(report.failed),
        "phases_s": report.phases_s,
    }


def scaling(folder: Path, uri: str, devices: str, args, workdir: Path) -> dict:
    """``mmrag ingest --devices``; the rate is rows over the longest encode phase of the processes."""
    import subprocess

    report = workdir / f"scale_{devices.replace(',', '_').replace(':', '')}_{abs(hash(uri)) % 1000}"
    collection = f"scale_{len(devices.split(','))}_{abs(hash(uri)) % 1000}"
    command = [sys.executable, "-m", "mmrag_lab.cli", "ingest", str(folder), "--devices", devices,
               "--uri", uri, "--collection", collection, "--encoder", args.preset,
               "--weights", "untrained", "--dtype", args.dtype, "--batch-size", str(args.batch_size),
               "--gpu-decode", "--report", str(report)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    wall = time.perf_counter() - start
    reports = [json.loads(p.read_text()) for p in workdir.glob(report.name + ".*.json")]
    ingested = sum(r["ingested"] for r in reports)
    S.drop(Config.load(env={}, milvus_uri=uri, collection=collection))
    return {
        "devices": devices,
        "ingested": ingested,
        "encode_images_per_s": ingested / max(r["phases_s"]["encode"] for r in reports),
        "wall_images_per_s": ingested / wall,
        "per_process": [{k: r[k] for k in ("ingested", "phases_s")} for r in reports],
    }


def parse_args() -> argparse.Namespace:
    """The benchmark's options (the module docstring says what each part measures)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=int, default=12_000)
    parser.add_argument("--unique", type=int, default=1_000)
    parser.add_argument("--scaling-images", type=int, default=36_000)
    parser.add_argument("--photos", type=Path, help="real JPEG photos for the agreement (clothing set)")
    parser.add_argument("--server-uri", help="a Milvus 2.3.5 server")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=14)
    parser.add_argument("--dtype", default="fp16")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mmrag_gpu_bench"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--preset", default="visualized-bge-base", help="tiny: a smoke run on a CPU")
    parser.add_argument("--skip", nargs="*", default=[], help="parts to leave out: e2e scaling agreement")
    parser.add_argument("--cpu-share", type=float, help="files decoded by CPU workers beside the GPU")
    parser.add_argument("--no-lite", action="store_true", help="measure only the server (no milvus-lite)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the end-to-end runs this many times, in turn"
    )
    parser.add_argument(
        "--runs", default="", help="comma-separated end-to-end runs to keep (default: all), e.g. cpu_decode"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    out: dict = {"params": {k: str(v) for k, v in vars(args).items()}, "env": S.environment()}

    def save(key: str, value) -> None:
        out[key] = value
        print(f"{key}: {json.dumps(value, default=float)[:400]}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2, default=float))

    workdir = args.workdir
    folder = workdir / "images"
    save("generate_s", S.generate(folder, workdir / "unique", args.images, args.unique))
    encoder = load_encoder(args.preset, weights="untrained", device=args.device, dtype=args.dtype)
    tasks = S.plan_tasks(folder)
    if "stages" not in args.skip:
        save("stages", S.stage_rates(tasks, encoder, args, workdir))
    lite = str(workdir / "bench.db")
    targets = ({} if args.no_lite else {"lite": lite}) | (
        {"server": args.server_uri} if args.server_uri else {}
    )
    if "agreement" not in args.skip and args.photos:
        save("agreement", S.agreement(sorted(args.photos.rglob("*.jpg")), args.device, args.preset))
    if "e2e" not in args.skip:
        beside = workdir / "beside"  # one photo of another folder: the plan then hashes, as before
        beside.mkdir(parents=True, exist_ok=True)
        (beside / "other.jpg").write_bytes(
            next(iter(sorted((workdir / "unique").glob("*.jpg")))).read_bytes()
        )
        # CPU workers take the share that their rate alone could keep up with at the model's rate
        stages = out.get("stages", {"cpu_decode_per_s": 1.0, "model_per_s": 2.0})
        share = args.cpu_share
        if share is None:
            share = round(min(0.5, stages["cpu_decode_per_s"] / stages["model_per_s"]), 2)
        for target, uri in targets.items():
            runs = {
                "cpu_decode": dict(gpu_decode=False, workers=args.workers),
                "gpu_decode_sequential": None,
                "gpu_decode_overlap": dict(gpu_decode=True, compile=False),
                f"gpu_decode_overlap_cpu_share_{share}": dict(
                    gpu_decode=True, cpu_share=share, workers=args.workers
                ),
                "cpu_decode_compiled": dict(gpu_decode=False, workers=args.workers, compile=True),
                "gpu_decode_overlap_cpu_share_compiled": dict(
                    gpu_decode=True, cpu_share=share, workers=args.workers, compile=True
                ),
                "gpu_decode_overlap_compiled": dict(gpu_decode=True, compile=True),
                "gpu_decode_overlap_compiled_hashed": dict(gpu_decode=True, compile=True, beside=beside),
                "gpu_decode_overlap_compiled_graphs": dict(
                    gpu_decode=True, compile=True, compile_mode="reduce-overhead"
                ),
            }
            keep = [name for name in args.runs.split(",") if name]
            runs = {name: options for name, options in runs.items() if not keep or name in keep}
            result = {}
            for rep in range(args.repeat):  # the runs alternate, so that a drift of the machine hits each
                for base, options in runs.items():
                    name = base if rep == 0 else f"{base}_r{rep + 1}"
                    if options is None:
                        result[name] = S.sequential(folder, uri, encoder, args.batch_size)
                    else:
                        result[name] = end_to_end(
                            folder, uri, f"{target}_{len(result)}", encoder, args, **options
                        )
                    print(target, name, f"{result[name]['pipeline_images_per_s']:,.0f}/s", flush=True)
            save(f"e2e_{target}", result)
    if "scaling" not in args.skip and torch.cuda.device_count() >= 2:
        big = workdir / "scaling"
        S.generate(big, workdir / "unique", args.scaling_images, args.unique)
        del encoder
        torch.cuda.empty_cache()
        for target, uri in targets.items():
            one = scaling(big, uri, "cuda:0", args, workdir)
            two = scaling(big, uri, "cuda:0,cuda:1", args, workdir)
            save(
                f"scaling_{target}",
                {"one": one, "two": two, "speedup": two["encode_images_per_s"] / one["encode_images_per_s"]},
            )
    print("done", flush=True)


def render(data: dict) -> dict:
    """The BENCHMARKS.md section for the JSON this script writes."""
    from gpu_render import render_section

    return render_section(data)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
