"""fp16 agreement and model-only throughput of every encoder preset, on untrained weights.

For each preset: the fp16 model's image, composed and text embeddings against the fp32 model's (minimum
cosine over a fixed batch), and images/s of ``encode_pixels`` alone (preprocessing excluded) at ``--batch``.
Prints one JSON object per preset. Meant for a GPU; ``--device cpu --presets tiny,tiny-clip --batch 4`` is
a smoke check (on the CPU, fp16 is only approximated by bf16-free fp16 matmuls where torch supports them).

    python benchmarks/encoders_gpu.py                          # every offline preset on cuda, batch 256
    python benchmarks/encoders_gpu.py --device cpu --presets tiny,tiny-clip --batch 4
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch

from mmrag_lab.encoders import PRESETS, load_encoder

OFFLINE = [name for name in PRESETS if name != "visualized-bge-m3"]  # m3's tokenizer needs the hub
TEXTS = ["the same dress but in red", "a darker background", "with long sleeves", "made of leather"]


def pixels_for(encoder, n: int) -> torch.Tensor:
    """A fixed batch of synthetic pictures, preprocessed the encoder's way."""
    from PIL import Image

    rng = np.random.default_rng(0)
    size = encoder.image_size
    pictures = [Image.fromarray(rng.integers(0, 256, (size + 16, size, 3), dtype=np.uint8)) for _ in range(n)]
    return torch.stack([encoder.preprocess(p) for p in pictures])


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(a * b, axis=1)))


def measure(name: str, device: str, batch: int, repeats: int) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = load_encoder(name, weights="untrained", device=device, dtype="fp32")
    pixels = pixels_for(full, batch)
    texts = [TEXTS[i % len(TEXTS)] for i in range(batch)]
    reference = [
        full.encode_pixels(pixels),
        full.encode_pixels(pixels, texts),
        full.encode_texts(texts, batch),
    ]
    del full
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        half = load_encoder(name, weights="untrained", device=device, dtype="fp16")
    got = [half.encode_pixels(pixels), half.encode_pixels(pixels, texts), half.encode_texts(texts, batch)]
    agreement = {kind: min_cosine(r, g) for kind, r, g in zip(("image", "composed", "text"), reference, got)}
    on_device = pixels.to(half.device)
    half.encode_pixels(on_device)  # warm-up
    if half.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        half.encode_pixels(on_device)
    if half.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "preset": name,
        "device": str(half.device),
        "batch": batch,
        "dim": half.dim,
        "fp16_min_cosine": agreement,
        "images_per_s_fp16": round(batch * repeats / seconds, 1),
        "untrained": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--presets", default=",".join(OFFLINE), help="comma-separated preset names")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for name in args.presets.split(","):
        print(json.dumps(measure(name.strip(), args.device, args.batch, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
