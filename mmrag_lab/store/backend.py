"""Connecting to the backend a URI names: Milvus Lite (a local ``.db`` folder) or a Milvus server.

Milvus Lite 3.x serves a data folder from a gRPC thread inside this process and holds an advisory
``flock`` on ``<folder>/LOCK`` while it is open, so only one process can use a file at a time. This
module turns a refused open into :class:`StoreLockedError` with the ways out, and releases the lock
when the last store on a file closes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from mmrag_lab.config import is_lite_uri
from mmrag_lab.errors import ConfigError, StoreError, StoreLockedError

# A lock held by a process that is exiting (a killed ingest's writer finishing its last upsert) clears
# within moments; wait that long before calling the file busy.
LOCK_WAIT_S = 5.0
_lite_users: dict[str, int] = {}
_lite_guard = threading.Lock()


class _DropMessage(logging.Filter):
    def __init__(self, *fragments: str):
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(fragment in record.getMessage() for fragment in self.fragments)


class _DropNotImplemented(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[0] is NotImplementedError)


# Noise, not news: a query iterator asks Milvus Lite for an MVCC timestamp that Lite does not implement
# (its gRPC thread logs a traceback, pymilvus a warning, and the iterator works on), and Milvus Lite logs a
# full traceback for a locked file that StoreLockedError explains in words.
logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_DropMessage("mvccTs"))
logging.getLogger("grpc._server").addFilter(_DropNotImplemented())
logging.getLogger("milvus_lite.server_manager").addFilter(_DropMessage("Failed to start MilvusLite"))


def display_uri(uri: str) -> str:
    """The URI without any user:password part, safe to print."""
    if is_lite_uri(uri):
        return uri
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connect(uri: str, token: str | None = None) -> MilvusClient:
    """A client for ``uri``.

    Raises:
        ConfigError: A local path that does not end in ``.db``.
        StoreLockedError: Another process holds the Milvus Lite file.
        StoreError: The server cannot be reached.
    """
    if is_lite_uri(uri):
        return _connect_lite(lite_path(uri))
    try:
        return MilvusClient(uri=uri, token=token or "")
    except MilvusException as exc:
        raise StoreError(
            f"Cannot reach the Milvus server at {display_uri(uri)} ({exc}). Check that it runs and that the "
            "URI and port are right; Zilliz Cloud and servers with authentication need MMRAG_MILVUS_TOKEN."
        ) from exc


def disconnect(client: MilvusClient, uri: str) -> None:
    """Close ``client``; when it was the last one on a Lite file, release the file lock."""
    client.close()
    if not is_lite_uri(uri):
        return
    path = str(lite_path(uri))
    with _lite_guard:
        _lite_users[path] = _lite_users.get(path, 1) - 1
        last = _lite_users[path] <= 0
        if last:
            _lite_users.pop(path, None)
    if last:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(path)


def lite_path(uri: str) -> Path:
    """The absolute Milvus Lite folder for a local URI."""
    path = Path(os.path.expanduser(uri)).absolute()
    if path.suffix != ".db":
        raise ConfigError(
            f"Milvus URI {uri!r} is neither a server address (http://host:port) nor a Milvus Lite file: "
            "Milvus Lite paths must end in '.db', e.g. ./mmrag_lab.db."
        )
    return path


def query_iterator(client: MilvusClient, collection: str, fields: list[str], filter: str, batch_size: int):
    return client.query_iterator(collection, batch_size=batch_size, filter=filter, output_fields=fields)


def _connect_lite(path: Path) -> MilvusClient:
    if path.exists() and not path.is_dir():
        raise StoreError(
            f"{path} is a file, but Milvus Lite 3 keeps a collection in a folder. It may come from Milvus "
            "Lite 2.x; pick a new path (e.g. --uri ./mmrag_lab3.db) and ingest again."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            client = MilvusClient(uri=str(path))
            break
        except MilvusException as exc:
            holder = lock_holder(path)
            if holder is None:
                raise StoreError(f"Cannot open the Milvus Lite file {path}: {exc}") from exc
            if time.monotonic() > deadline:
                raise StoreLockedError(locked_message(path, holder)) from None
            time.sleep(0.25)
    with _lite_guard:
        _lite_users[str(path)] = _lite_users.get(str(path), 0) + 1
    return client


def lock_holder(path: Path) -> int | None:
    """The pid holding the Lite lock on ``path`` (0 if unknown), or None when nobody holds it."""
    lock = path / "LOCK"
    try:
        import fcntl
    except ImportError:  # Windows: Lite locks with msvcrt; report the lock without a pid
        return 0 if lock.exists() else None
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return _pid_from_proc_locks(lock)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def locked_message(path: Path, pid: int) -> str:
    who = f"process {pid}" if pid else "another process"
    return (
        f"The Milvus Lite file {path} is in use by {who}. Milvus Lite lets one process at a time open a "
        f"file and enforces it with a lock (flock on {path / 'LOCK'}). Ways out: (1) finish or close the "
        "other user (a notebook kernel keeps the file until Store.close() or a kernel restart); "
        f"(2) serve the file to many processes with `milvus-lite server --data-dir {path} --port 19530` "
        "and use --uri http://127.0.0.1:19530 (MMRAG_MILVUS_URI); (3) use a Milvus server URI instead of a "
        "local file."
    )


def _pid_from_proc_locks(lock: Path) -> int:
    try:
        inode = os.stat(lock).st_ino
        with open("/proc/locks", encoding="ascii", errors="replace") as table:
            for line in table:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].endswith(f":{inode}"):
                    return int(fields[4])
    except (OSError, ValueError):
        pass
    return 0
