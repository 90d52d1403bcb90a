"""GPU decoding against CPU decoding on real photos: the cosine between the two paths' embeddings, per preset.

usage: python benchmarks/decode_agreement.py OUT.json PHOTOS_DIR [--limit 400] [--presets ...]

Both paths feed the same encoder (untrained weights, fp32 and fp16): the CPU path decodes with Pillow
(libjpeg-turbo), the GPU path with nvJPEG (:func:`mmrag_lab.ingestion.gpu_decode.prepare_batch`). The
``same_pixels_twice`` figure is the encoder's own run-to-run noise on identical pixels, for scale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_stages as S  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("photos")
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--presets", nargs="+", default=["bge-vl-base", "visualized-bge-base"])
    args = parser.parse_args()
    photos = sorted(p for p in Path(args.photos).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    data = {"environment": S.environment(), "photos_dir": args.photos}
    for preset in args.presets:
        data[preset] = S.agreement(photos, "cuda", preset, args.limit)
        print(preset, json.dumps(data[preset]), flush=True)
    Path(args.out).write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
