"""One Milvus Lite file shared by many processes through its local server: real processes, real Lite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mmrag_lab.config import Config
from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.errors import StoreLockedError
from mmrag_lab.store import clients as backend
from mmrag_lab.store import lite_discovery
from mmrag_lab.store.vector_store import Store

INFO = EncoderInfo(name="tiny", dim=8, untrained=True, weights="untrained", fingerprint="f00d")
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from mmrag_lab.config import Config
    from mmrag_lab.encoders.base import EncoderInfo
    from mmrag_lab.store.vector_store import Store
    uri, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store.open(Config.load(env={}, milvus_uri=uri, collection="shared"))
    store.ensure_collection(EncoderInfo("tiny", 8, True, "untrained", "f00d"))
    vectors = np.random.default_rng(len(tag)).normal(size=(n, 8)).astype("float32")
    for start in range(0, n, 50):
        rows = [
            {"id": f"{tag}-{i}", "vector": vectors[i].tolist(), "path": f"/{tag}/{i}.jpg", "root": tag,
             "rel_path": f"{i}.jpg", "content_hash": f"{tag}{i}", "width": 1, "height": 1, "file_size": 1,
             "meta": {}}
            for i in range(start, min(n, start + 50))
        ]
        store.insert(rows)
    print(store.count(), flush=True)
    """
)


def config(uri: str, **extra) -> Config:
    return Config.load(env={}, milvus_uri=uri, collection="shared", **extra)


def rows(tag: str, n: int) -> list[dict]:
    vectors = np.random.default_rng(7).normal(size=(n, 8)).astype("float32")
    return [
        {"id": f"{tag}-{i}", "vector": v.tolist(), "path": f"/{tag}/{i}.jpg", "root": tag, "rel_path": f"{i}.jpg",
         "content_hash": f"{tag}{i}", "width": 1, "height": 1, "file_size": 1, "meta": {}}
        for i, v in enumerate(vectors)
    ]  # fmt: skip


def server_pid(uri: str) -> int:
    status = lite_discovery.server_status(uri)
    assert status["running"], status
    return status["pid"]


@pytest.mark.slow
def test_processes_write_one_file_at_once_and_see_every_row(tmp_path):
    uri = str(tmp_path / "shared.db")
    with Store.open(config(uri)) as store:  # this process keeps its store open throughout
        store.ensure_collection(INFO)
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, uri, tag, "300"], stdout=subprocess.PIPE, text=True
            )
            for tag in ("alpha", "beta", "gamma")
        ]
        store.insert(rows("local", 100))
        outputs = [w.communicate(timeout=300) for w in writers]
        assert all(w.returncode == 0 for w in writers), outputs
        assert store.count() == 1000
        assert len({r["id"] for r in store.iterate(("path",))}) == 1000


@pytest.mark.slow
def test_racing_processes_end_with_one_server(tmp_path):
    uri = str(tmp_path / "race.db")
    script = "import sys; from mmrag_lab.store import clients as backend; backend.connect(sys.argv[1]); print('ok')"
    racers = [
        subprocess.Popen([sys.executable, "-c", script, uri], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    assert [r.communicate(timeout=120)[0].strip() for r in racers] == ["ok"] * 4
    pid = server_pid(uri)
    servers = [p for p in os.listdir("/proc") if p.isdigit() and _serves(int(p), uri)]
    assert servers == [str(pid)]


def test_a_killed_server_is_replaced_and_flushed_rows_survive(tmp_path):
    uri = str(tmp_path / "killed.db")
    store = Store.open(config(uri))
    store.ensure_collection(INFO)
    store.insert(rows("a", 40))
    store.flush()
    first = server_pid(uri)
    os.kill(first, signal.SIGKILL)
    assert store.count() == 40  # this very store reconnects; the next server replays the file
    assert server_pid(uri) != first


@pytest.mark.slow
def test_stale_records_are_replaced(tmp_path):
    uri = str(tmp_path / "stale.db")
    files = lite_discovery.side_files(uri)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"pid": dead.pid, "port": 1, "db": files["db"], "nonce": "x", "started": 0}
    for record in (
        stale,
        {**stale, "pid": os.getpid()},
        {**stale, "db": "/elsewhere.db", "pid": os.getpid()},
    ):
        lite_discovery.write_record(files["record"], record)
        with Store.open(config(uri)) as store:
            store.ensure_collection(INFO)
        assert server_pid(uri) not in (dead.pid, os.getpid())
        lite_discovery.stop_server(uri)


@pytest.mark.slow
def test_an_idle_server_stops_by_itself_and_the_next_user_starts_one(tmp_path):
    uri = str(tmp_path / "idle.db")
    with Store.open(config(uri, lite_idle_timeout=1.5)) as store:
        store.ensure_collection(INFO)
        store.insert(rows("a", 10))
        store.flush()
    pid = server_pid(uri)
    deadline = time.monotonic() + 30
    while lite_discovery.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not lite_discovery.pid_alive(pid)
    assert not os.path.exists(lite_discovery.side_files(uri)["record"])
    with Store.open(config(uri)) as store:
        assert store.count() == 10


def test_a_warm_search_is_one_rpc(tmp_path):
    uri = str(tmp_path / "rpc.db")
    store = Store.open(config(uri))
    store.ensure_collection(INFO)
    store.insert(rows("a", 50))
    store.flush_and_load()
    store.search(np.ones((1, 8)), k=3)
    before = lite_discovery.server_status(uri)["calls"]
    with Store.open(config(uri)) as again:  # a new Store object borrows the warm client
        hits = again.search(np.ones((1, 8)), k=3)
    after = lite_discovery.server_status(uri)["calls"]
    assert len(hits[0]) == 3
    spent = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    assert spent == {"Search": 1}


def test_a_program_holding_the_file_directly_gets_a_clear_error(tmp_path):
    uri = str(tmp_path / "held.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pymilvus import MilvusClient; c = MilvusClient(sys.argv[1]); "
         "print('ready', flush=True); sys.stdin.readline()", uri],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError, match="held by another program"):
            backend.connect(uri)
    finally:
        holder.communicate("done\n", timeout=60)


@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_lite_cli_shows_and_stops_the_server(tmp_path):
    uri = str(tmp_path / "cli.db")
    with Store.open(config(uri)) as store:
        store.ensure_collection(INFO)
    pid = server_pid(uri)
    cli = [sys.executable, "-m", "mmrag_lab.cli", "lite"]
    status = subprocess.run([*cli, "status", uri], capture_output=True, text=True, timeout=60)
    assert f"served by pid {pid}" in status.stdout
    stop = subprocess.run([*cli, "stop", uri], capture_output=True, text=True, timeout=60)
    assert "stopped" in stop.stdout and not lite_discovery.pid_alive(pid)
    again = subprocess.run([*cli, "status", uri], capture_output=True, text=True, timeout=60)
    assert "no server running" in again.stdout
    record = lite_discovery.side_files(uri)["record"]
    assert not os.path.exists(record) or json.load(open(record)).get("pid") != pid


def _serves(pid: int, uri: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    return lite_discovery.SERVER_MODULE in argv and lite_discovery.side_files(uri)["db"] in argv


@pytest.mark.slow
def test_a_server_whose_file_was_deleted_stops_and_a_new_one_serves_the_new_file(tmp_path):
    import shutil

    uri = str(tmp_path / "gone.db")
    with Store.open(config(uri)) as store:
        store.ensure_collection(INFO)
    old = server_pid(uri)
    shutil.rmtree(uri)
    deadline = time.monotonic() + 30
    while lite_discovery.pid_alive(old) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not lite_discovery.pid_alive(old)
    with Store.open(config(uri)) as store:
        store.refresh()
        assert not store.exists()
        store.ensure_collection(INFO)
    assert server_pid(uri) != old
