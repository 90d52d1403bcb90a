"""Writing sessions: an ingest that has had the collection to itself skips the per-batch look-up of
``insert_new``; another writer, in another process, alive or finished, brings the look-up back. Real
Milvus Lite, real processes; on the real 2.3.5 server, whose writers may be on other machines, every batch is
still looked up."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.store.vector_store import Store

ROOT = Path(__file__).resolve().parents[2]
INFO = EncoderInfo("tiny", 8, True, "untrained", "0")


def rows(start: int, count: int, hashed: str = "h") -> list[dict]:
    vectors = np.random.default_rng(start).standard_normal((count, 8)).astype(np.float32)
    return [
        {"id": f"r{i}", "vector": v / np.linalg.norm(v), "path": f"/x/{i}.jpg", "width": 1, "height": 1,
         "file_size": 1, "meta": {}, "root": "x", "rel_path": f"{i}.jpg", "content_hash": f"{hashed}{i}"}
        for i, v in zip(range(start, start + count), vectors, strict=True)
    ]  # fmt: skip


@contextlib.contextmanager
def counting_store(config, monkeypatch):
    """The collection, opened, with ``lookups`` counting insert_new's look-ups."""
    with Store.open(config) as opened:
        opened.ensure_collection(INFO)
        opened.lookups = 0
        real = opened.writes._stored_hashes

        def counting(ids):
            opened.lookups += 1
            return real(ids)

        monkeypatch.setattr(opened.writes, "_stored_hashes", counting)
        yield opened


@pytest.fixture
def store(tmp_path, monkeypatch):
    config = Config.load(env={}, milvus_uri=str(tmp_path / "sessions.db"), collection="s")
    with counting_store(config, monkeypatch) as opened:
        yield opened


def other_process(uri: str, body: str) -> subprocess.Popen:
    """A process that opens the collection and runs ``body``; it says "ready" and waits for a line."""
    script = textwrap.dedent(
        f"""
        import sys
        from mmrag_lab.config import Config
        from mmrag_lab.store.vector_store import Store
        store = Store.open(Config.load(env={{}}, milvus_uri={uri!r}, collection="s"))
        """
    ) + textwrap.dedent(body)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests" / "store")])}
    process = subprocess.Popen([sys.executable, "-c", script], env=env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    assert process.stdout.readline().strip() == "ready"
    return process


HOLD_A_SESSION = """
with store.writing():
    print("ready", flush=True)
    sys.stdin.readline()
"""


def finish(process: subprocess.Popen) -> None:
    process.communicate("go\n", timeout=60)
    assert process.returncode == 0


def test_a_writer_alone_skips_the_look_up_and_one_outside_a_session_never_does(store):
    store.insert_new(rows(0, 4))
    assert store.lookups == 1  # no session: looked up
    with store.writing():
        assert store.insert_new(rows(4, 4)) == set()
        assert store.insert_new(rows(8, 4)) == set()
    assert store.lookups == 1
    store.insert_new(rows(12, 4))
    assert store.lookups == 2
    assert store.count() == 16


@pytest.mark.slow
def test_a_session_begun_elsewhere_brings_the_look_up_back_and_its_rows_are_counted_as_theirs(store):
    uri = store.uri
    with store.writing():
        store.insert_new(rows(0, 2))
        assert store.lookups == 0
        other = other_process(uri, """
            with store.writing():
                store.insert_new(__import__("test_writer_sessions").rows(2, 3))
                print("ready", flush=True)
                sys.stdin.readline()
        """)  # fmt: skip
        already = store.insert_new(rows(2, 3))  # the same rows, stored by the other process first
        assert store.lookups == 1
        assert already == {"r2", "r3", "r4"}
        finish(other)
        store.insert_new(rows(5, 2))  # it has ended, but may have written since we began: looked up
        assert store.lookups == 2


def test_a_session_that_begins_while_another_is_open_is_not_alone(store):
    other = other_process(store.uri, HOLD_A_SESSION)
    try:
        with store.writing():
            store.insert_new(rows(0, 2))
            assert store.lookups == 1
    finally:
        finish(other)
    with store.writing():  # the other has gone, and its flock with it
        store.insert_new(rows(2, 2))
    assert store.lookups == 1


def test_a_killed_writer_leaves_no_session_behind(store):
    other = other_process(store.uri, HOLD_A_SESSION)
    other.kill()
    other.wait(timeout=30)
    with store.writing():
        store.insert_new(rows(0, 2))
    assert store.lookups == 0


@pytest.mark.slow
def test_a_write_outside_any_session_elsewhere_brings_the_look_up_back(store):
    with store.writing():
        store.insert_new(rows(0, 2))
        other = other_process(store.uri, """
            store.insert_new(__import__("test_writer_sessions").rows(2, 2))
            print("ready", flush=True)
            sys.stdin.readline()
        """)  # fmt: skip
        finish(other)
        assert store.insert_new(rows(2, 2)) == {"r2", "r3"}
    assert store.lookups == 1


def test_two_sessions_of_one_process_are_not_alone(store):
    with store.writing(), store.writing():
        store.insert_new(rows(0, 2))
    assert store.lookups == 1
    with store.writing():
        store.insert_new(rows(2, 2))
    assert store.lookups == 1


def test_on_a_server_a_session_still_looks_up_every_batch(milvus_server, monkeypatch):
    config = Config.load(env={}, milvus_uri=milvus_server.uri, collection=f"s_{uuid.uuid4().hex[:10]}")
    with counting_store(config, monkeypatch) as server_store:
        try:
            with server_store.writing():
                server_store.insert_new(rows(0, 2))
                server_store.insert_new(rows(2, 2))
            assert server_store.lookups == 2
        finally:
            server_store.drop()
