"""``kill -9`` in the middle of a real ``mmrag ingest`` process, twice, then a re-run that completes the job:
every image present exactly once, every row complete."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from badimages import encoded, photo

from mmrag_lab.ingestion.scan import content_id
from mmrag_lab.store.vector_store import Store

IMAGES = 360
PROGRESS = re.compile(rb"\d+/(\d+) \[[^\]]*stored=(\d+)")


def make_photos(folder, count: int) -> dict[str, tuple[str, int]]:
    """Distinct JPEGs in a few sub-folders; returns content id -> (relative path, size)."""
    expected = {}
    for i in range(count):
        rel = f"part{i % 4}/img_{i:04d}.jpg"
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = encoded(photo(480, 360, seed=i), "JPEG", quality=90)
        path.write_bytes(data)
        expected[content_id(data)] = (rel, len(data))
    return expected


def ingest_command(folder, target) -> list[str]:
    return [
        sys.executable, "-m", "mmrag_lab.cli", "ingest", str(folder),
        "--uri", target.uri, "--collection", target.collection,
        "--encoder", "tiny", "--weights", "untrained", "--device", "cpu",
        "--batch-size", "4", "--workers", "1",
    ]  # fmt: skip


def kill_midway(command: list[str], fraction: float) -> int:
    """Run ``command`` and SIGKILL it once the rows it has stored pass ``fraction`` of its images."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seen = b""
    try:
        while chunk := os.read(process.stderr.fileno(), 65536):
            seen = (seen + chunk)[-4096:]
            matches = PROGRESS.findall(seen)
            if matches:
                total, stored = map(int, matches[-1])
                if total and stored >= fraction * total:
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=60)
                    return stored
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
    pytest.fail(f"ingest ended (exit {process.returncode}) before reaching {fraction:.0%}: {seen[-800:]!r}")


def count_rows(target) -> int:
    with Store.open(target.config()) as store:
        return store.count()


@pytest.mark.slow
def test_kill_9_twice_then_rerun_stores_every_image_exactly_once(store_uri, tmp_path):
    folder = tmp_path / "photos"
    expected = make_photos(folder, IMAGES)
    command = ingest_command(folder, store_uri)

    kill_midway(command, 0.25)
    after_first_kill = count_rows(store_uri)  # a Lite file killed mid-write must reopen cleanly
    assert 0 < after_first_kill < IMAGES
    kill_midway(command, 0.3)
    after_second_kill = count_rows(store_uri)
    assert after_first_kill < after_second_kill < IMAGES

    result = subprocess.run(
        command + ["--no-progress"], capture_output=True, text=True, timeout=600,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{IMAGES - after_second_kill} ingested (" in result.stdout
    assert f"{after_second_kill} unchanged" in result.stdout

    with Store.open(store_uri.config()) as store:
        assert store.count() == IMAGES  # count(*) counts duplicate primary keys too: none
        fields = ("vector", "content_hash", "path", "width", "height", "file_size", "meta")
        rows = list(store.iterate(fields))
    assert sorted(row["content_hash"] for row in rows) == sorted(expected)
    root = os.path.realpath(folder)
    for row in rows:
        rel, size = expected[row["content_hash"]]
        assert row["path"] == os.path.join(root, rel)
        assert (row["width"], row["height"], row["file_size"], row["meta"]) == (480, 360, size, {})
        assert np.linalg.norm(row["vector"]) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_kill_9_of_the_shared_lite_server_mid_ingest_then_rerun_is_exact(tmp_path):
    from mmrag_lab.store import lite_discovery

    folder = tmp_path / "photos"
    make_photos(folder, 120)
    target = type("Target", (), {"uri": str(tmp_path / "shared.db"), "collection": "killed"})
    command = ingest_command(folder, target)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    seen, killed = b"", None
    while chunk := os.read(process.stderr.fileno(), 65536):
        seen = (seen + chunk)[-4096:]
        matches = PROGRESS.findall(seen)
        if killed is None and matches and int(matches[-1][1]) >= 30:
            killed = lite_discovery.server_status(target.uri)["pid"]
            os.kill(killed, signal.SIGKILL)
    out, _ = process.communicate(timeout=600)
    assert killed, f"the ingest never stored 30 rows: {seen[-800:]!r}"
    # the ingest either recovered on a new server by itself or failed with an error; a re-run finishes
    rerun = subprocess.run(command + ["--no-progress"], capture_output=True, text=True, timeout=600, env=env)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    status = lite_discovery.server_status(target.uri)
    assert status["running"] and status["pid"] != killed
    config = Store.open(target.uri).config.with_overrides(collection="killed")
    with Store.open(config) as store:
        paths = [row["path"] for row in store.iterate(("path",))]
        assert store.count() == 120 == len(set(paths)) == len(paths)
