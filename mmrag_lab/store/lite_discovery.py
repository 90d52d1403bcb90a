"""Finding, starting and stopping the one server of a Milvus Lite ``.db`` (see :mod:`.lite_server`).

The first user of a file starts a detached server for it; it outlives that user and is recorded in
``<db>.server.json`` (pid, port, the file's real path, a random token). Every later user verifies the record
(the pid is alive, runs our server for this very file, and answers on the port with the record's token) and
connects. A stale record is replaced. ``<db>.server.lock`` (a flock) makes check-and-start atomic, so racing
processes end with one server.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from mmrag_lab.errors import StoreError, StoreLockedError, StoreStalledError
from mmrag_lab.store.lite_process import SERVER_MODULE, our_server, pid_alive, runs_our_server
from mmrag_lab.store.lite_process import silent_server_advice as _advice

DEFAULT_IDLE_TIMEOUT_S = 900.0
INFO_SERVICE = "mmrag.lite.Control"
INFO_METHOD = f"/{INFO_SERVICE}/Info"
NONCE_ENV = "MMRAG_LITE_NONCE"
ASK_TIMEOUT_S = 5.0  # how long one question to a server waits for its answer
PATIENCE_S = 15.0  # how long a silent server of ours is waited for before the command gives up on it


def side_files(db_path: str) -> dict[str, str]:
    """The real path of the ``.db`` and of its record, lock and log files beside it."""
    db = os.path.realpath(db_path)
    return {"db": db, "record": db + ".server.json", "lock": db + ".server.lock", "log": db + ".server.log"}


def auth_header(nonce: str) -> str:
    """The ``authorization`` value pymilvus sends for the URI ``http://lite:<nonce>@...``."""
    return base64.b64encode(f"lite:{nonce}".encode()).decode()


@contextlib.contextmanager
def flock(path: str, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive flock on ``path``; yields False when ``blocking`` is off and it is taken."""
    import fcntl

    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            got = True
        except BlockingIOError:
            got = False
        yield got
    finally:
        os.close(fd)


def read_record(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_record(path: str, record: dict[str, Any]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with os.fdopen(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w") as f:
        json.dump(record, f)
    os.replace(tmp, path)


def remove_record(path: str, nonce: str | None = None) -> None:
    """Delete the record; with ``nonce``, only while it is still that server's."""
    record = read_record(path)
    if record is not None and (nonce is None or record.get("nonce") == nonce):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def server_uri(record: dict[str, Any]) -> str:
    """The URI pymilvus connects with: the token travels as the user:password part."""
    return f"http://lite:{record['nonce']}@127.0.0.1:{record['port']}"


def ensure_server(db_path: str, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S, wait_s: float = 60.0) -> str:
    """The URI of the one server for ``db_path``, started first when none runs.

    A record whose server is ours and alive but silent (stopped, or busy) is never replaced: that server
    still holds the file.

    Raises:
        StoreStalledError: Our server for the file is alive but did not answer for ``PATIENCE_S`` seconds;
            the message says what to do (wait, ``mmrag lite stop``, or kill it).
        StoreLockedError: Another program (not an mmrag_lab server) holds the file.
        StoreError: The server did not come up; the message carries the end of its log.
    """
    files = side_files(db_path)
    os.makedirs(os.path.dirname(files["db"]), exist_ok=True)
    with flock(files["lock"]):
        record = read_record(files["record"])
        if verify(record, files["db"], touch=True, patience_s=PATIENCE_S):
            return server_uri(record)
        silent = our_server(record, files["db"])
        if silent:
            raise StoreStalledError(_advice(files["db"], silent, PATIENCE_S))
        remove_record(files["record"])
        return server_uri(_spawn(files, idle_timeout_s, wait_s))


def server_status(db_path: str) -> dict[str, Any]:
    """What serves ``db_path``: running or not, pid, port, idle time and RPC counts; starts nothing.

    A server of ours that is alive but does not answer is ``running`` and not ``answering``; ``advice``
    then says what to do.
    """
    files = side_files(db_path)
    record = read_record(files["record"])
    info = verify(record, files["db"], touch=False)
    status = {"db": files["db"], "running": info is not None, "answering": info is not None}
    silent = None if info else our_server(record, files["db"])
    if silent:
        status |= {"running": True, "pid": silent, "advice": _advice(files["db"], silent, ASK_TIMEOUT_S)}
    return {**status, "record": files["record"], **(info or {})}


def stop_server(db_path: str, timeout_s: float = 15.0) -> bool:
    """Stop the server of ``db_path`` (SIGTERM, then SIGKILL after ``timeout_s``); True when one ran.

    A stopped (SIGSTOP) or busy server of ours is stopped too: it is continued so that it sees the SIGTERM.
    """
    files = side_files(db_path)
    with flock(files["lock"]):
        record = read_record(files["record"])
        pid = our_server(record, files["db"])
        if not pid:
            remove_record(files["record"])
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + timeout_s
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        remove_record(files["record"], record.get("nonce"))
        return True


def verify(record: dict[str, Any] | None, db: str, touch: bool, patience_s: float = 0.0) -> dict | None:
    """The live server's own facts when ``record`` describes a running server of ``db``, else None.

    A server that is ours but slow to answer (an index build holding the GIL) gets ``patience_s`` seconds.
    """
    if not record or record.get("db") != db:
        return None
    pid, deadline = int(record.get("pid", 0)), time.monotonic() + patience_s
    while pid_alive(pid):
        info = _ask(record, touch)
        if info and info.get("db") == db and info.get("pid") == pid:
            return info
        if time.monotonic() > deadline or not runs_our_server(pid, db):
            return None
        time.sleep(0.5)
    return None


def _ask(record: dict[str, Any], touch: bool, timeout: float = ASK_TIMEOUT_S) -> dict[str, Any] | None:
    from mmrag_lab.store.backends.connect import quiet_grpc

    quiet_grpc()
    import grpc

    try:
        with grpc.insecure_channel(f"127.0.0.1:{record['port']}") as channel:
            raw = channel.unary_unary(INFO_METHOD)(
                b"touch" if touch else b"",
                timeout=timeout,
                metadata=[("authorization", auth_header(record["nonce"]))],
            )
        return json.loads(raw)
    except (grpc.RpcError, ValueError, KeyError):
        return None


def _spawn(files: dict[str, str], idle_timeout_s: float, wait_s: float) -> dict[str, Any]:
    nonce = secrets.token_hex(16)
    command = [sys.executable, "-m", SERVER_MODULE, files["db"], "--idle-timeout", str(idle_timeout_s)]
    env = {**os.environ, NONCE_ENV: nonce, "GRPC_VERBOSITY": "ERROR"}  # the token never appears in argv
    with open(files["log"], "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True
        )
    threading.Thread(target=process.wait, daemon=True).start()  # reaped when it exits while we live
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and process.poll() is None:
        record = read_record(files["record"])
        if record and record.get("nonce") == nonce and verify(record, files["db"], touch=True):
            return record
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with open(files["log"], "rb") as log:
        tail = log.read()[-1500:].decode(errors="replace")
    if "lock" in tail.lower():
        raise StoreLockedError(
            f"The Milvus Lite file {files['db']} is held by another program that opened it directly (Milvus "
            "Lite admits one process per file). Close that program, or point it at the URI that "
            f"`mmrag lite status {files['db']}` prints once this file is served."
        )
    raise StoreError(f"The Milvus Lite server for {files['db']} did not start; its log ends with:\n{tail}")
