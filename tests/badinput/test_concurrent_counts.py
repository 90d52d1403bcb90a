"""Two ``mmrag ingest`` processes on one folder and one Milvus Lite file: each report counts its own writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from badimages import photo

from mmrag_lab.config import Config
from mmrag_lab.store.vector_store import Store

ROOT = Path(__file__).resolve().parents[2]
IMAGES = 30


def _start(folder: Path, uri: str, collection: str, report: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "mmrag_lab.cli", "ingest", str(folder), "--uri", uri, "--collection",
               collection, "--encoder", "tiny", "--weights", "untrained", "--device", "cpu", "--workers", "0",
               "--batch-size", "2", "--no-progress", "--report", str(report)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_two_concurrent_ingests_add_each_row_once_between_them(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(IMAGES):  # large enough that decoding them lasts longer than the two starts differ
        photo(2400, 1600, seed=n).save(folder / f"p{n:02d}.jpg", quality=95)
    uri = str(tmp_path / "shared.db")
    raced = False
    for attempt in range(3):  # a row must be planned by both before either writes it, or there is no race
        collection = f"race{attempt}"
        reports = [tmp_path / f"{collection}-{n}.json" for n in (1, 2)]
        processes = [_start(folder, uri, collection, report) for report in reports]
        outputs = [process.communicate(timeout=300)[0] for process in processes]
        assert [process.returncode for process in processes] == [0, 0], outputs
        assert all("Traceback" not in output for output in outputs)
        counted = [json.loads(report.read_text()) for report in reports]
        assert sum(report["added"] for report in counted) == IMAGES, counted
        for report in counted:
            assert report["added"] + report["unchanged"] == IMAGES
            assert report["ingested"] == report["added"]
        with Store.open(Config.load(env={}, milvus_uri=uri, collection=collection, encoder="tiny")) as store:
            assert store.count() == IMAGES
        raced = any(report["written_by_others"] for report in counted)
        if raced:  # without the per-write check, both reports would have counted those rows as added
            assert any("written by another process" in output for output in outputs)
            break
    assert raced, "the two processes never overlapped; the test proved nothing"
