"""The bundled sample: 40 photos in class folders and a sidecar that names each of them."""

from __future__ import annotations

import csv

from mmrag_lab.workbench.runtime.sample import sample_dir, sample_metadata


def test_the_sample_has_forty_photos_in_class_folders():
    photos = sorted(sample_dir().rglob("*.jpg"))
    assert len(photos) == 40 and all(p.parent.parent == sample_dir() for p in photos)


def test_the_sidecar_describes_every_photo_and_nothing_else():
    with sample_metadata().open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {"file", "category", "title"} <= set(rows[0])
    names = {p.name for p in sample_dir().rglob("*.jpg")}
    assert {row["file"].rsplit("/", 1)[-1] for row in rows} == names and all(row["title"] for row in rows)
