"""Folders that go away for a while (an unmounted drive, a folder renamed away and back): a folder that
comes back is never stored twice, and ``--prune`` never empties a folder's rows without being asked to."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from badimages import encoded, photo

from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes


def write_photos(folder, seeds: dict[str, int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, seed in seeds.items():
        (folder / name).write_bytes(encoded(photo(seed=seed), "JPEG"))


def run(folder, target, encoder, **options):
    return ingest(folder, config=target.config(), encoder=encoder, options=INLINE, progress=False, **options)


def rows_by_path(target) -> dict[str, dict]:
    with Store.open(target.config()) as store:
        rows = list(store.iterate(("root", "path", "content_hash", "meta")))
        assert store.count() == len(rows)
    paths = [row["path"] for row in rows]
    assert len(paths) == len(set(paths)), f"a file is stored twice: {sorted(paths)}"
    return {row["path"]: row for row in rows}


def search_paths(target, encoder) -> list[str]:
    from mmrag_lab.retrieval import search

    hits = search(text="a photo", k=50, config=target.config(), encoder=encoder)
    return [hit.path for hit in hits]


def test_a_folder_that_comes_back_after_another_took_its_name_is_stored_once(
    store_uri, tmp_path, tiny_encoder
):
    home, away = tmp_path / "x", tmp_path / "x-unmounted"
    first, other = home / "photos", tmp_path / "y" / "photos"
    write_photos(first, {"a.jpg": 1, "b.jpg": 2, "c.jpg": 3})
    write_photos(other, {"d.jpg": 4, "e.jpg": 5})
    sidecar = tmp_path / "meta.csv"
    sidecar.write_text("file,tag\na.jpg,alpha\nb.jpg,beta\n")
    assert run(first, store_uri, tiny_encoder, metadata=sidecar).added == 3

    home.rename(away)  # the drive is unmounted: x/photos is gone
    report = run(other, store_uri, tiny_encoder, prune=True)
    assert (report.added, report.pruned) == (2, 0)  # another folder of that name: the rows of x stay
    assert report.root != "photos"
    away.rename(home)  # and back

    again = run(first, store_uri, tiny_encoder)
    assert (again.root, again.ingested, again.encoded, again.unchanged) == ("photos", 0, 0, 3)
    rows = rows_by_path(store_uri)
    on_disk = sorted(str(p) for folder in (first, other) for p in folder.iterdir())
    assert sorted(rows) == on_disk
    assert rows[str(first / "a.jpg")]["meta"] == {"tag": "alpha"}
    assert sorted(search_paths(store_uri, tiny_encoder)) == on_disk  # each image listed once


def test_a_returning_folder_takes_back_its_rows_stored_under_a_name_now_held_by_another(
    store_uri, tmp_path, tiny_encoder
):
    home, away = tmp_path / "x", tmp_path / "x-unmounted"
    first, copy = home / "photos", tmp_path / "y" / "photos"
    write_photos(first, {"a.jpg": 1, "b.jpg": 2, "c.jpg": 3})
    write_photos(copy, {"a.jpg": 1, "d.jpg": 4})  # holds a.jpg of x: taken for x, moved
    sidecar = tmp_path / "meta.csv"
    sidecar.write_text("file,tag\nb.jpg,beta\n")
    run(first, store_uri, tiny_encoder, metadata=sidecar)
    home.rename(away)
    assert run(copy, store_uri, tiny_encoder).root == "photos"
    assert len(rows_by_path(store_uri)) == 4  # b and c of x are still stored, under the name y took
    away.rename(home)

    back = run(first, store_uri, tiny_encoder)
    assert back.root == "photos-2" and back.encoded == 0
    rows = rows_by_path(store_uri)
    on_disk = sorted(str(p) for folder in (first, copy) for p in folder.iterdir())
    assert sorted(rows) == on_disk  # 5 rows for 5 files: the old rows of b and c were taken back
    assert (
        rows[str(first / "b.jpg")]["meta"] == {"tag": "beta"}
        and rows[str(first / "b.jpg")]["root"] == "photos-2"
    )
    assert run(first, store_uri, tiny_encoder).unchanged == 3
    assert len(rows_by_path(store_uri)) == 5


def test_a_folder_moved_for_real_still_keeps_its_name_and_rows(store_uri, tmp_path, tiny_encoder):
    first, moved = tmp_path / "x" / "photos", tmp_path / "y" / "photos"
    write_photos(first, {"a.jpg": 1, "b.jpg": 2, "c.jpg": 3})
    run(first, store_uri, tiny_encoder)
    moved.parent.mkdir()
    first.rename(moved)
    (moved / "c.jpg").write_bytes(encoded(photo(seed=30), "JPEG"))  # edited while moving: still the folder
    report = run(moved, store_uri, tiny_encoder)
    assert (report.root, report.updated, report.reencoded, report.added) == ("photos", 2, 1, 0)
    assert sorted(rows_by_path(store_uri)) == sorted(str(p) for p in moved.iterdir())


def test_prune_of_an_emptied_folder_is_refused_with_the_count_and_prune_all_does_it(
    store_uri, tmp_path, tiny_encoder
):
    folder = tmp_path / "mnt" / "photos"
    write_photos(folder, {f"{i}.jpg": i for i in range(4)})
    run(folder, store_uri, tiny_encoder)
    for path in folder.iterdir():
        path.unlink()  # what an unmounted drive's mount point looks like
    with pytest.raises(ConfigError, match=r"--prune would delete 4 of the 4 rows of folder 'photos' \(all"):
        run(folder, store_uri, tiny_encoder, prune=True)
    assert len(rows_by_path(store_uri)) == 4

    write_photos(folder, {"0.jpg": 0})  # 3 of 4 would go: more than half
    with pytest.raises(ConfigError, match=r"3 of the 4 rows .*\(75% of them\).*--prune-all"):
        run(folder, store_uri, tiny_encoder, prune=True)
    assert len(rows_by_path(store_uri)) == 4
    with pytest.raises(ConfigError, match="prune must be False, True or 'all'"):
        run(folder, store_uri, tiny_encoder, prune="everything")
    assert run(folder, store_uri, tiny_encoder, prune="all").pruned == 3
    assert list(rows_by_path(store_uri)) == [str(folder / "0.jpg")]


@pytest.mark.slow
def test_the_cli_refuses_a_prune_of_everything_and_prune_all_confirms_it(store_uri, tmp_path, tiny_encoder):
    folder = tmp_path / "photos"
    write_photos(folder, {"a.jpg": 1, "b.jpg": 2})
    run(folder, store_uri, tiny_encoder)
    for path in folder.iterdir():
        path.unlink()
    command = [sys.executable, "-m", "mmrag_lab.cli", "ingest", str(folder), "--uri", store_uri.uri,
               "--collection", store_uri.collection, "--encoder", "tiny", "--weights", "untrained",
               "--device", "cpu", "--no-progress", "--workers", "0"]  # fmt: skip
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    refused = subprocess.run([*command, "--prune"], capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode == 2, refused.stderr
    assert "would delete 2 of the 2 rows" in refused.stderr and "--prune-all" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(rows_by_path(store_uri)) == 2
    both = subprocess.run([*command, "--prune", "--prune-all"], capture_output=True, text=True, env=env)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    report = tmp_path / "report.json"
    done = subprocess.run([*command, "--prune-all", "--report", str(report)], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text())["pruned"] == 2 and rows_by_path(store_uri) == {}
