"""The store when its server stalls or its work is cut short: a Lite server stopped with SIGSTOP, a migrate
killed with SIGKILL between its steps, the database folder deleted during an ingest. Real servers, real
signals, the real CLI in a subprocess; every answer is one message that says what to do, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from cli_inputs import TRACEBACK

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.errors import StoreError, StoreStalledError
from mmrag_lab.store import lite_discovery
from mmrag_lab.store.backends.connect import new_client
from mmrag_lab.store.migrate import SUFFIX
from mmrag_lab.store.record import RECORD_PROPERTY
from mmrag_lab.store.schema import FORMAT1_FIELDS, build_index, build_schema
from mmrag_lab.store.vector_store import Store

INFO = EncoderInfo(name="tiny", dim=8, untrained=True, weights="untrained", fingerprint="f00d")
CLI = [sys.executable, "-m", "mmrag_lab.cli"]


def cli(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "MMRAG_ENCODER": "tiny", "MMRAG_WEIGHTS": "untrained", "MMRAG_DEVICE": "cpu"}
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=timeout, env=env)


def rows(n: int, tag: str = "r") -> list[dict]:
    vectors = np.random.default_rng(3).normal(size=(n, 8)).astype("float32")
    return [
        {"id": f"{tag}-{i}", "vector": v.tolist(), "path": f"/{tag}/{i}.jpg", "root": tag, "rel_path": f"{i}.jpg",
         "content_hash": f"{tag}{i}", "width": 1, "height": 1, "file_size": 1, "meta": {}}
        for i, v in enumerate(vectors)
    ]  # fmt: skip


def servers_of(db: str) -> list[int]:
    """Every live process that serves ``db`` (its command line names our server and the file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and lite_discovery.our_server({"db": db, "pid": entry.name}, db):
            found.append(int(entry.name))
    return found


def stop_and_wait(pid: int, within_s: float = 30.0) -> None:
    """SIGSTOP ``pid`` and return once every thread of it is stopped (state ``T`` in ``/proc``).

    ``kill`` only queues the signal: the process stops once one of its threads is scheduled and takes it,
    and until then its other threads run on. On a loaded machine that lets a server answer a request sent
    right after the ``kill`` (a quick ``list_collections``), so a test of a stalled server waits for the stop.
    """
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        states = set()
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            with contextlib.suppress(OSError):
                states.add(stat.read_text().rsplit(")", 1)[1].split()[0])
        if states == {"T"}:
            return
        time.sleep(0.01)
    pytest.fail(f"the Lite server (pid {pid}) did not stop within {within_s:.0f} s of SIGSTOP")


@pytest.fixture
def stopped_server(tmp_path):
    """A Lite file with 5 rows whose server is stopped with SIGSTOP (every thread of it, before the test
    runs); continued and killed at the end."""
    uri = str(tmp_path / "stalled.db")
    config = Config.load(env={}, milvus_uri=uri, collection="c", milvus_timeout=2)
    store = Store.open(config)
    store.ensure_collection(INFO)
    store.insert(rows(5))
    store.flush_and_load()
    pid = lite_discovery.read_record(lite_discovery.side_files(uri)["record"])["pid"]
    try:
        stop_and_wait(pid)
        yield uri, store, pid
    finally:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            if lite_discovery.pid_alive(pid):
                os.kill(pid, sig)


@pytest.mark.slow
def test_a_stopped_lite_server_is_ours_left_alone_and_named_with_what_to_do(stopped_server):
    uri, _store, pid = stopped_server
    db = lite_discovery.side_files(uri)["db"]
    record = lite_discovery.side_files(uri)["record"]

    status = cli("lite", "status", uri)
    assert status.returncode == 0 and f"served by pid {pid}, which does not answer" in status.stdout
    assert "no server running" not in status.stdout

    info = cli("info", "--uri", uri, "--collection", "c")
    assert info.returncode == 1, info.stderr
    for fragment in (f"pid {pid}", "stopped", f"kill -CONT {pid}", f"mmrag lite stop {db}"):
        assert fragment in info.stderr
    assert TRACEBACK not in info.stderr and "held by another program" not in info.stderr
    assert json.load(open(record))["pid"] == pid  # its record is kept, and no second server started
    assert servers_of(db) == [pid]

    stop = cli("lite", "stop", uri)
    assert stop.returncode == 0 and "stopped the server" in stop.stdout
    assert not lite_discovery.pid_alive(pid)
    again = cli("info", "--uri", uri, "--collection", "c")
    assert again.returncode == 0 and "count: 5" in again.stdout.replace("  ", " "), again.stderr


@pytest.mark.parametrize("call", ["count", "exists", "search", "iterate", "insert", "collections"])
@pytest.mark.slow
def test_every_store_call_to_a_stalled_server_is_a_store_error_and_logs_nothing(stopped_server, call, capfd):
    uri, store, pid = stopped_server
    capfd.readouterr()
    calls = {
        "count": store.count,
        "exists": store.exists,
        "search": lambda: store.search(np.ones(8, dtype="float32"), k=3),
        "iterate": lambda: list(store.iterate()),
        "insert": lambda: store.insert(rows(2, "late")),
        "collections": store.collections,
    }
    with pytest.raises(StoreStalledError) as caught:
        calls[call]()
    assert f"kill -CONT {pid}" in str(caught.value) and "mmrag lite stop" in str(caught.value)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "_InactiveRpcError" not in err and "RpcError" not in err


def test_a_client_the_server_refuses_is_a_store_error_not_a_grpc_one(tmp_path):
    uri = str(tmp_path / "auth.db")
    with Store.open(Config.load(env={}, milvus_uri=uri, collection="c")) as store:
        store.ensure_collection(INFO)
    port = lite_discovery.read_record(lite_discovery.side_files(uri)["record"])["port"]
    with pytest.raises(StoreError, match="Cannot reach the Milvus server"):
        new_client(f"http://lite:wrong-token@127.0.0.1:{port}", "", uri, 5)


# --- migrate killed between its steps -----------------------------------------------------------------

KILLED_MIGRATE = textwrap.dedent(
    """
    import os, signal, sys
    from mmrag_lab.config import Config
    from mmrag_lab.store import migrate
    from mmrag_lab.store.vector_store import Store

    uri, collection, point = sys.argv[1:4]
    drop = Store.drop

    def drop_then_die(self):
        if point == "before-drop" and self.collection == collection:
            os.kill(os.getpid(), signal.SIGKILL)
        drop(self)
        if point == "after-drop" and self.collection == collection:
            os.kill(os.getpid(), signal.SIGKILL)

    Store.drop = drop_then_die
    migrate.migrate(Store.open(Config.load(env={}, milvus_uri=uri, collection=collection)))
    """
)


def write_format1(config: Config, n: int) -> None:
    """A collection as mmrag_lab's content-hash keyed schema (record format 1) wrote it."""
    record = {"format": 1, "encoder": "tiny", "dim": 8, "metric": "COSINE", "index_type": "AUTOINDEX",
              "fingerprint": "f00d", "weights": "untrained", "untrained": True, "metadata_keys": []}  # fmt: skip
    vectors = np.random.default_rng(5).normal(size=(n, 8)).astype("float32")
    with Store.open(config) as store:
        store.client.create_collection(
            config.collection, schema=build_schema(8, FORMAT1_FIELDS),
            index_params=build_index(store.client, "AUTOINDEX", "COSINE"), consistency_level="Strong",
            properties={RECORD_PROPERTY: json.dumps(record)},
        )  # fmt: skip
        store.client.upsert(config.collection, [
            {"id": f"{i:064x}", "vector": v.tolist(), "path": f"/photos/{i}.jpg", "width": 1, "height": 1,
             "file_size": 1, "meta": {}} for i, v in enumerate(vectors)
        ])  # fmt: skip
        store.flush_and_load()


@pytest.mark.parametrize("point", ["after-drop", "before-drop"])
@pytest.mark.slow
def test_a_migrate_killed_between_its_steps_is_finished_by_the_next_run(store_uri, point):
    config = store_uri.config()
    write_format1(config, 30)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MIGRATE, store_uri.uri, store_uri.collection, point],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with Store.open(config) as store:
        names = store.collections()
    assert store_uri.collection + SUFFIX in names
    assert (store_uri.collection in names) == (point == "before-drop")

    first = cli("migrate", "--uri", store_uri.uri, "--collection", store_uri.collection)
    assert first.returncode == 0, first.stderr
    assert "Finished the interrupted migration" in first.stdout and "30 row(s)" in first.stdout
    assert TRACEBACK not in first.stderr
    with Store.open(config) as store:
        store.refresh()
        assert store.record().format == 2 and store.count() == 30
        assert store_uri.collection + SUFFIX not in store.collections()
    second = cli("migrate", "--uri", store_uri.uri, "--collection", store_uri.collection)
    assert second.returncode == 0 and "already has the current schema" in second.stdout


# --- the database folder deleted during an ingest -----------------------------------------------------


@pytest.mark.slow
def test_a_db_deleted_during_an_ingest_is_named_and_the_next_ingest_starts_afresh(tmp_path, sample_dir):
    uri, collection = str(tmp_path / "vanishing.db"), "photos"
    command = [*CLI, "ingest", str(sample_dir), "--uri", uri, "--collection", collection, "--workers", "0",
               "--batch-size", "1", "--no-progress"]  # fmt: skip
    env = {**os.environ, "MMRAG_ENCODER": "tiny", "MMRAG_WEIGHTS": "untrained", "MMRAG_DEVICE": "cpu"}
    ingest = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    schema = Path(uri) / "collections" / collection / "schema.json"
    deadline = time.monotonic() + 240
    while not schema.exists() and ingest.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(ingest.pid, signal.SIGSTOP)  # hold the ingest while its database goes
    server = lite_discovery.read_record(lite_discovery.side_files(uri)["record"])["pid"]
    shutil.rmtree(uri)
    while lite_discovery.pid_alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)  # the server sees its folder gone and stops
    os.kill(ingest.pid, signal.SIGCONT)
    out, err = ingest.communicate(timeout=240)
    assert ingest.returncode == 1, out + err
    assert f"The Milvus Lite database {uri} was deleted or replaced while" in err
    assert "Run the command again" in err and TRACEBACK not in err

    again = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr
    assert "40 ingested" in again.stdout


@pytest.mark.slow
def test_the_remains_of_a_deleted_db_are_cleared_and_the_ingest_goes_on(tmp_path, sample_dir):
    uri, collection = str(tmp_path / "remains.db"), "photos"
    command = [
        "ingest",
        str(sample_dir),
        "--uri",
        uri,
        "--collection",
        collection,
        "--workers",
        "0",
        "--no-progress",
    ]
    assert cli(*command).returncode == 0
    assert cli("lite", "stop", uri).returncode == 0
    shutil.rmtree(uri)
    # What a server's late write leaves when its folder is deleted under it: the collection's folder made
    # again (os.makedirs), without its schema. Lite does not count it as a collection, yet cannot create one.
    (Path(uri) / "collections" / collection / "wal").mkdir(parents=True)

    again = cli(*command)
    assert again.returncode == 0, again.stderr
    assert f"held the remains of collection {collection!r} without its schema" in again.stderr
    assert "40 ingested" in again.stdout and "File exists" not in again.stderr
    with Store.open(Config.load(env={}, milvus_uri=uri, collection=collection)) as store:
        assert store.count() == 40
