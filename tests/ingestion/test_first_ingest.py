"""A first ingest into an empty collection hashes as it reads (no pass over the files before the first batch),
and still encodes identical bytes once; an ingest into a collection that holds rows still plans by hash.
Real JPEGs, the tiny preset on the CPU, real Milvus Lite."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from badimages import encoded, photo

import mmrag_lab.ingestion.plan as plan_module
from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store

MAPPERS = {
    "cpu-inline": IngestOptions(workers=0),
    "cpu-workers": IngestOptions(workers=1),
    "gpu-mapper": IngestOptions(gpu_decode=True),  # the GPU mapper's code path, on the CPU device here
    "split": IngestOptions(gpu_decode=True, cpu_share=0.5, workers=0),
}


@pytest.fixture
def hash_calls(monkeypatch) -> list[int]:
    """The number of files the plan hashed, per call."""
    calls: list[int] = []
    real = plan_module.hash_files_stamped

    def counting(files, threads=4):
        calls.append(len(files))
        return real(files, threads)

    monkeypatch.setattr(plan_module, "hash_files_stamped", counting)
    return calls


def folder_with_twins(folder) -> dict[str, str]:
    """Nine photos, a twin of one in the same batch and of another in the last batch, and a broken file.

    Returns each twin's relative path and the relative path of the file whose bytes it has.
    """
    (folder / "a").mkdir(parents=True)
    (folder / "z").mkdir()
    for i in range(9):
        (folder / "a" / f"img_{i:02d}.jpg").write_bytes(encoded(photo(64, 48, seed=i), "JPEG"))
    twins = {"a/img_01b.jpg": "a/img_01.jpg", "z/late_twin.jpg": "a/img_00.jpg"}
    for twin, first in twins.items():
        (folder / twin).write_bytes((folder / first).read_bytes())
    (folder / "a" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return twins


def lite(tmp_path) -> Config:
    return Config.load(env={}, milvus_uri=str(tmp_path / "first.db"), collection="first")


def stored(config) -> dict[str, dict]:
    with Store.open(config) as store:
        return {row["rel_path"]: row for row in store.iterate(("vector", "rel_path", "content_hash", "path"))}


@pytest.mark.parametrize("mapper", MAPPERS.values(), ids=MAPPERS.keys())
def test_a_first_ingest_hashes_while_reading_and_encodes_identical_bytes_once(
    tmp_path, tiny_encoder, hash_calls, mapper
):
    folder = tmp_path / "photos"
    twins = folder_with_twins(folder)
    config = lite(tmp_path)
    report = ingest(folder, config=config, encoder=tiny_encoder, batch_size=4, progress=False, options=mapper)

    assert hash_calls == []  # no pass over the files before the first batch
    assert (report.seen, report.added, report.ingested, report.encoded, report.copied) == (12, 11, 11, 9, 2)
    assert [f["path"].rsplit("/", 1)[-1] for f in report.failed] == ["broken.jpg"]
    root = report.images_dir + "/"
    duplicates = {d["path"].removeprefix(root): d["same_as"].removeprefix(root) for d in report.duplicates}
    assert duplicates == twins
    assert report.seen == report.added + report.unchanged + len(report.failed)

    rows = stored(config)
    assert len(rows) == 11 and "a/broken.jpg" not in rows
    for rel, row in rows.items():  # each hash is the one of the bytes on disk, taken as they were read
        assert row["content_hash"] == hashlib.sha256((folder / rel).read_bytes()).hexdigest(), rel
    for twin, first in twins.items():
        assert np.array_equal(rows[twin]["vector"], rows[first]["vector"]), twin
    assert len({np.asarray(row["vector"]).round(5).tobytes() for row in rows.values()}) == 9

    again = ingest(folder, config=config, encoder=tiny_encoder, batch_size=4, progress=False, options=mapper)
    assert hash_calls == [12]  # the collection holds rows now: the plan hashes every file and compares
    assert (again.encoded, again.ingested, again.unchanged) == (0, 0, 11)


def test_an_ingest_next_to_another_folder_plans_by_hash_and_copies_its_vectors(
    tmp_path, tiny_encoder, hash_calls
):
    config = lite(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for i in range(3):
        (first / f"p{i}.jpg").write_bytes(encoded(photo(64, 48, seed=i), "JPEG"))
    (second / "same_as_p1.jpg").write_bytes((first / "p1.jpg").read_bytes())
    (second / "new.jpg").write_bytes(encoded(photo(64, 48, seed=7), "JPEG"))
    ingest(first, config=config, encoder=tiny_encoder, progress=False, options=IngestOptions(workers=0))
    assert hash_calls == []
    report = ingest(
        second, config=config, encoder=tiny_encoder, progress=False, options=IngestOptions(workers=0)
    )
    assert hash_calls == [2]
    assert (report.added, report.encoded, report.copied, report.duplicates) == (2, 1, 1, [])
    rows = stored(config)
    assert np.array_equal(rows["same_as_p1.jpg"]["vector"], rows["p1.jpg"]["vector"])


def test_a_file_changed_after_the_scan_is_stored_with_the_hash_of_the_bytes_encoded(tmp_path, tiny_encoder):
    folder = tmp_path / "photos"
    folder.mkdir()
    target = folder / "changing.jpg"
    target.write_bytes(encoded(photo(64, 48, seed=1), "JPEG"))
    replacement = encoded(photo(64, 48, seed=2), "JPEG")
    real_first = plan_module._first_ingest

    def rewrite_after_the_plan(plan, scan, sidecar):
        planned = real_first(plan, scan, sidecar)
        target.write_bytes(replacement)  # rewritten between the scan and the read
        return planned

    config = lite(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plan_module, "_first_ingest", rewrite_after_the_plan)
        report = ingest(
            folder, config=config, encoder=tiny_encoder, progress=False, options=IngestOptions(workers=0)
        )
    assert (report.ingested, report.failed) == (1, [])
    (row,) = stored(config).values()
    assert row["content_hash"] == hashlib.sha256(replacement).hexdigest()
    again = ingest(
        folder, config=config, encoder=tiny_encoder, progress=False, options=IngestOptions(workers=0)
    )
    assert (again.unchanged, again.encoded) == (1, 0)  # ... so a re-run finds it up to date
    assert os.path.getsize(target) == len(replacement)
