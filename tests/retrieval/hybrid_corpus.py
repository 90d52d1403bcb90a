"""A small folder for keyword and feedback tests: sample photos, two pairs of twins (identical bytes under
two names, so identical vectors) and a sidecar whose titles hold one unique keyword."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

KEYWORD = "zebrastripe"


def make_corpus(sample_dir: Path, folder: Path, count: int = 16) -> tuple[Path, Path, dict[str, Path]]:
    """Copy ``count`` sample photos into ``folder``, add ``a_twin.jpg`` and ``x_twin.jpg``; return the
    folder, its sidecar and the named files (``a``, ``a_twin``, ``x``, ``x_twin``, ``keyword``)."""
    images = folder / "images"
    images.mkdir(parents=True)
    photos = sorted(sample_dir.rglob("*.jpg"))[:count]
    for index, photo in enumerate(photos):
        shutil.copyfile(photo, images / f"p{index:02d}.jpg")
    shutil.copyfile(images / "p00.jpg", images / "a_twin.jpg")
    shutil.copyfile(images / "p05.jpg", images / "x_twin.jpg")
    names = sorted(p.name for p in images.iterdir())
    sidecar = folder / "meta.csv"
    with open(sidecar, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "title"])
        for name in names:
            title = f"a {KEYWORD} shirt" if name == "p09.jpg" else f"plain photo {name[:-4]}"
            writer.writerow([name, title])
    named = {
        "a": "p00.jpg",
        "a_twin": "a_twin.jpg",
        "x": "p05.jpg",
        "x_twin": "x_twin.jpg",
        "keyword": "p09.jpg",
    }
    return images, sidecar, {key: images / name for key, name in named.items()}
