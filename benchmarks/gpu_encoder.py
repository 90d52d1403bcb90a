"""GPU encoder benchmark: low-precision agreement with fp32 and model-only throughput.

usage: python benchmarks/gpu_encoder.py OUT.json
Needs a CUDA GPU; uses the parity fixture's deterministic weights (identical to ``weights="untrained"``).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmrag_lab.encoders import load_encoder  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "visualized-bge-parity"


def agreement(dtypes=("fp16", "bf16")) -> dict:
    inputs = json.loads((FIXTURE / "inputs.json").read_text())
    images = [str(FIXTURE / "images" / n) for n in inputs["images"]]
    reference = np.load(FIXTURE / "reference.npz")
    out = {}
    for dtype in ("fp32", *dtypes):
        enc = load_encoder("visualized-bge-base", weights="untrained", device="cuda", dtype=dtype)
        vecs = {
            "image": enc.encode_images(images),
            "composed": enc.encode_queries(images, inputs["texts"]),
            "text": enc.encode_texts(inputs["texts"]),
        }
        out[dtype] = {
            k: {
                "min_cosine_vs_reference": float((v * reference[k]).sum(1).min()),
                "max_abs_vs_reference": float(np.abs(v - reference[k]).max()),
            }
            for k, v in vecs.items()
        }
        del enc
        torch.cuda.empty_cache()
    return out


def throughput(dtype: str, batch_sizes, seconds: float = 4.0) -> list[dict]:
    enc = load_encoder("visualized-bge-base", weights="untrained", device="cuda", dtype=dtype)
    rows = []
    for bs in batch_sizes:
        pixels = torch.randn(bs, 3, 224, 224, device="cuda")
        torch.cuda.reset_peak_memory_stats()
        try:
            for _ in range(2):
                enc.encode_pixels(pixels)
            torch.cuda.synchronize()
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                enc.encode_pixels(pixels)
                n += bs
            torch.cuda.synchronize()
            elapsed = time.perf_counter() - start
            rows.append(
                {
                    "dtype": dtype,
                    "batch": bs,
                    "images_per_s": n / elapsed,
                    "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30,
                }
            )
        except torch.cuda.OutOfMemoryError:
            rows.append(
                {"dtype": dtype, "batch": bs, "images_per_s": None, "peak_mem_gib": None, "oom": True}
            )
        del pixels
        torch.cuda.empty_cache()
        print(rows[-1], flush=True)
    return rows


def main(out_path: str) -> None:
    result = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "agreement": agreement(),
        "throughput": throughput("fp32", [1, 64, 256])
        + throughput("fp16", [1, 64, 256, 512, 1024])
        + throughput("bf16", [256, 512, 1024]),
    }
    Path(out_path).write_text(json.dumps(result, indent=2))
    print(json.dumps(result["agreement"], indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
