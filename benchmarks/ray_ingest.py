"""Both ingest engines, in one run, into one Milvus (the 2.3.5 server on a GPU machine): the Ray engine against
the in-process one, end to end from the scan to the last acknowledged write; where the time went; the job size
from which the Ray engine wins; and, with ``--devices all``, the Ray engine over every GPU of the machine.

usage: python benchmarks/ray_ingest.py OUT.json --uri http://127.0.0.1:19530 [--images 24000] [--unique 1000]
           [--presets bge-vl-base visualized-bge-base] [--crossover 1000 4000 10000] [--devices all]
           [--quick] (the tiny preset on the CPU, a few hundred files: a dry run of every step)

Settings of both engines: untrained weights (the real compute), fp16 on CUDA, batches of 256, GPU decoding
(``--cpu-decode``: CPU decoding), bge-vl-base eager and visualized-bge-base compiled. The rate is rows over
the phases from the scan to the last write (``scan + hash + copy + update + encode``); the Ray engine's encode
phase includes starting Ray and building the model in each actor. Model construction in the driver and the
final flush are outside both engines' phases and reported apart (``whole_run_s``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import gpu_stages as S  # noqa: E402
import torch  # noqa: E402

from mmrag_lab.config import Config  # noqa: E402
from mmrag_lab.encoders import load_encoder  # noqa: E402
from mmrag_lab.ingestion import ray_engine  # noqa: E402
from mmrag_lab.ingestion.options import IngestOptions  # noqa: E402
from mmrag_lab.ingestion.pipeline import ingest  # noqa: E402
from mmrag_lab.ingestion.ray_session import RayOptions  # noqa: E402

PIPELINE = ("scan", "hash", "copy", "update", "encode")


def one_run(folder: Path, args, preset: str, engine: str, encoder, ray_options=None, tag="") -> dict:
    """One ingest of ``folder`` into a new collection; its rates, phases and (Ray) the stages' stats."""
    collection = f"ray_bench_{preset.replace('-', '_')}_{engine}{tag}"
    config = Config.load(
        env={}, milvus_uri=args.uri, collection=collection, encoder=preset, weights="untrained",
        batch_size=args.batch_size, device=args.device,
    )  # fmt: skip
    S.drop(config)
    started = time.perf_counter()
    options = IngestOptions(gpu_decode=args.gpu_decode, compile=preset in args.compiled)
    report = ingest(
        folder, config=config, encoder=encoder, progress=False, options=options, engine=engine,
        ray_options=ray_options,
    )  # fmt: skip
    whole = time.perf_counter() - started
    pipeline_s = sum(report.phases_s.get(k, 0.0) for k in PIPELINE)
    S.drop(config)
    out = {
        "engine": engine,
        "images_per_s": round(report.ingested / pipeline_s, 1),
        "ingested": report.ingested,
        "failed": len(report.failed),
        "pipeline_s": round(pipeline_s, 2),
        "whole_run_s": round(whole, 2),
        "phases_s": report.phases_s,
    }
    if engine == "ray":
        out["ray"] = dict(ray_engine.last_run)
    shown = {k: v for k, v in out.items() if k != "ray"} | {
        k: v for k, v in out.get("ray", {}).items() if k != "stats"
    }  # fmt: skip
    print(json.dumps({"preset": preset, "files": report.seen, **shown}, default=str)[:1500], flush=True)
    return out


def crossover(rows: list[dict]) -> dict:
    """Fit ``seconds = fixed + files / rate`` per engine; the job size where the two lines cross."""
    import numpy as np

    fits = {}
    for engine in ("local", "ray"):
        points = [(r["files"], r["pipeline_s"]) for r in rows if r["engine"] == engine]
        n, s = np.array(points, dtype=float).T
        slope, fixed = np.polyfit(n, s, 1)
        fits[engine] = {"fixed_s": round(float(fixed), 2), "images_per_s": round(1 / slope, 1)}
    gain = 1 / fits["local"]["images_per_s"] - 1 / fits["ray"]["images_per_s"]
    extra = fits["ray"]["fixed_s"] - fits["local"]["fixed_s"]
    fits["crossover_files"] = round(extra / gain) if gain > 0 else None
    return fits


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--uri", required=True, help="the Milvus both engines write to")
    parser.add_argument("--images", type=int, default=24_000)
    parser.add_argument("--unique", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--presets", nargs="+", default=["bge-vl-base", "visualized-bge-base"])
    parser.add_argument("--compiled", nargs="*", default=["visualized-bge-base"])
    parser.add_argument("--crossover", nargs="*", type=int, default=[2000, 8000])
    parser.add_argument("--crossover-preset", default="bge-vl-base")
    parser.add_argument("--cpu-decode", dest="gpu_decode", action="store_false")
    parser.add_argument(
        "--actors-per-gpu", type=int, nargs="+", default=[RayOptions.actors_per_gpu],
        help="encoder actors per GPU; several values: one Ray run each (the first is 'ray')",
    )  # fmt: skip
    parser.add_argument("--writers", type=int, default=RayOptions.writers)
    parser.add_argument("--devices", help="all or 0,1: only the Ray engine, over these GPUs (multi-GPU run)")
    parser.add_argument("--workdir", default="/tmp/mmrag_ray_bench")
    parser.add_argument("--quick", action="store_true", help="tiny preset on the CPU: a dry run")
    args = parser.parse_args()
    args.device = "auto"
    if args.quick:
        args.presets, args.compiled, args.crossover_preset = ["tiny"], [], "tiny"
        args.images, args.unique, args.batch_size, args.crossover = 240, 40, 16, [40, 120]
        args.gpu_decode, args.device = False, "cpu"
    return args


def main() -> None:
    args = parse_args()
    work = Path(args.workdir)
    folder = work / f"files_{args.images}"
    data: dict = {"environment": S.environment(), "settings": {k: v for k, v in vars(args).items()}}
    data["generate_s"] = round(S.generate(folder, work / "unique", args.images, args.unique), 1)
    gpus = torch.cuda.device_count()
    devices = None
    if args.devices:
        devices = tuple(range(gpus)) if args.devices == "all" else tuple(map(int, args.devices.split(",")))
    shapes = [RayOptions(gpus=devices, actors_per_gpu=n, writers=args.writers) for n in args.actors_per_gpu]
    options = shapes[0]
    data["runs"] = {}
    for preset in args.presets:
        encoder = load_encoder(preset, weights="untrained", device=args.device)
        runs = {} if devices else {"local": one_run(folder, args, preset, "local", encoder)}
        for n, shape in zip(args.actors_per_gpu, shapes):
            key = "ray" if shape is options else f"ray_{n}_per_gpu"
            runs[key] = one_run(folder, args, preset, "ray", encoder, shape, tag=f"_{n}")
            if "local" in runs:
                runs[f"{key}_over_local"] = round(
                    runs[key]["images_per_s"] / runs["local"]["images_per_s"], 2
                )
        data["runs"][preset] = runs
        del encoder
        torch.cuda.empty_cache()
        Path(args.out).write_text(json.dumps(data, indent=1, default=str))
    if args.crossover and not devices:
        encoder = load_encoder(args.crossover_preset, weights="untrained", device=args.device)
        rows = []
        for count in args.crossover:
            small = work / f"files_{count}"
            S.generate(small, work / "unique", count, min(count, args.unique))
            for engine in ("local", "ray"):
                shape = options if engine == "ray" else None
                run = one_run(small, args, args.crossover_preset, engine, encoder, shape, tag=f"_{count}")
                rows.append({"files": count, **run})
        big = data["runs"].get(args.crossover_preset, {})
        rows += [{"files": args.images, **big[e]} for e in ("local", "ray") if e in big]
        data["crossover"] = {"runs": rows, "fit": crossover(rows)}
    Path(args.out).write_text(json.dumps(data, indent=1, default=str))
    print(json.dumps({"crossover": data.get("crossover", {}).get("fit")}))


if __name__ == "__main__":
    main()
