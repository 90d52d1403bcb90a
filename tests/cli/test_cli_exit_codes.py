"""Exit codes of the real ``mmrag``: 2 for what the user asked wrongly (found before any work, or a raw
filter Milvus refuses), 1 for a job that could not finish (a store that refuses a call during the work)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
from badimages import encoded, photo

from mmrag_lab.config import Config
from mmrag_lab.errors import FilterRefusedError, QueryError, StoreError
from mmrag_lab.store.vector_store import Store

CLI = [sys.executable, "-m", "mmrag_lab.cli"]
ENV = {**os.environ, "MMRAG_ENCODER": "tiny", "MMRAG_WEIGHTS": "untrained", "MMRAG_DEVICE": "cpu",
       "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
STORED = re.compile(rb"stored=(\d+)")
TRACEBACK = "Traceback (most recent call last)"


@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_a_collection_dropped_during_an_ingest_is_a_failed_job_exit_1(tmp_path):
    folder, uri = tmp_path / "photos", str(tmp_path / "lite.db")
    folder.mkdir()
    for i in range(60):
        (folder / f"img_{i:03d}.jpg").write_bytes(encoded(photo(320, 240, seed=i), "JPEG", quality=90))
    command = [*CLI, "ingest", str(folder), "--uri", uri, "--collection", "photos", "--workers", "0",
               "--batch-size", "2"]  # fmt: skip
    ingest = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    seen = b""
    try:
        while chunk := os.read(ingest.stderr.fileno(), 65536):
            seen = (seen + chunk)[-4096:]
            if any(int(n) >= 2 for n in STORED.findall(seen)):
                break
        assert chunk, f"the ingest ended before it stored a row: {seen[-800:]!r}"
        os.kill(ingest.pid, signal.SIGSTOP)  # in the middle of its writes
        with Store.open(Config.load(env={}, milvus_uri=uri, collection="photos")) as store:
            store.drop()
        os.kill(ingest.pid, signal.SIGCONT)
        out, err = ingest.communicate(timeout=300)
    finally:
        if ingest.poll() is None:
            os.kill(ingest.pid, signal.SIGCONT)
            ingest.kill()
            ingest.wait(timeout=60)
    text = (seen + err).decode(errors="replace")
    assert ingest.returncode == 1, text[-2000:]
    assert "mmrag ingest: error: Milvus refused" in text and TRACEBACK not in text


def test_a_store_that_cannot_be_opened_at_the_uri_given_stays_a_usage_error(tmp_path, sample_dir):
    (tmp_path / "a file.db").write_text("not a database")
    done = subprocess.run([*CLI, "ingest", str(sample_dir), "--uri", str(tmp_path / "a file.db")],
                          capture_output=True, text=True, env=ENV, timeout=300)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Milvus Lite 3 keeps a collection in a folder" in done.stderr and TRACEBACK not in done.stderr


@pytest.fixture(scope="module")
def collection(tmp_path_factory, sample_dir, tiny_encoder):
    from mmrag_lab.ingestion.options import IngestOptions
    from mmrag_lab.ingestion.pipeline import ingest

    uri = str(tmp_path_factory.mktemp("codes") / "lite.db")
    config = Config.load(env={}, milvus_uri=uri, collection="codes", encoder="tiny", weights="untrained")
    ingest(sample_dir, config=config, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
    return config


def test_a_raw_filter_milvus_refuses_is_the_users_to_fix_exit_2(collection, tmp_path):
    done = subprocess.run([*CLI, "search", "--uri", collection.milvus_uri, "--collection", "codes", "--text",
                           "red", "--filter", "this is not an expression", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=ENV, timeout=300)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Milvus refused search" in done.stderr and "Check the raw filter 'this is not an" in done.stderr
    assert TRACEBACK not in done.stderr


def test_the_refused_filter_is_a_query_error_and_still_a_store_error(collection, tiny_encoder):
    from mmrag_lab.retrieval.query import search

    with pytest.raises(FilterRefusedError, match="use where=") as caught:
        search(text="red", filter="this is not an expression", config=collection, encoder=tiny_encoder)
    assert isinstance(caught.value, QueryError) and isinstance(caught.value, StoreError)
