"""Connecting to the backend a URI names, with one long-lived client per (URI, token) in a process.

A local path ending in ``.db`` is Milvus Lite. Milvus Lite lets one process open a file, so every process
here reaches it through the file's own server (:mod:`mmrag_lab.store.lite_discovery` finds or starts it):
notebook kernels, the CLI, papermill runs and the app share one database. ``http(s)://host:port`` is a
Milvus server or Zilliz Cloud. Either way the client is opened once per process and kept: an open costs
RPCs (and, on Zilliz Cloud, rate-limited ones), so stores borrow it and never close it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from mmrag_lab.config import is_lite_uri
from mmrag_lab.errors import ConfigError, StoreError
from mmrag_lab.store import lite_discovery

# Keepalive pings every 30 s, also while idle and during a long call (an index build): the Lite server
# accepts them at any rate, and a Milvus server's minimum ping interval is below this.
CLIENT_GRPC_OPTIONS = {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 20_000,
    "grpc.keepalive_permit_without_calls": True,
    "grpc.http2.max_pings_without_data": 0,
}
_clients: dict[tuple[int, str, str], MilvusClient] = {}
_clients_guard = threading.Lock()


class _DropMessage(logging.Filter):
    def __init__(self, *fragments: str):
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(fragment in record.getMessage() for fragment in self.fragments)


class _DropNotImplemented(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[0] is NotImplementedError)


# Noise, not news: a query iterator asks Milvus Lite for an MVCC timestamp that Lite does not implement (a
# warning, and the iterator works on). pymilvus logs every refused call with a traceback, and a failed
# reconnect to a Lite server that went away, before the Store turns the first into a StoreError that says
# what to do, and recovers from the second.
logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_DropMessage("mvccTs"))
logging.getLogger("pymilvus.decorators").addFilter(_DropMessage("RPC error: [", "Unexpected error: ["))
logging.getLogger("pymilvus.client.connection_manager").addFilter(_DropMessage("Connection recovery failed"))
logging.getLogger("grpc._server").addFilter(_DropNotImplemented())


def display_uri(uri: str) -> str:
    """The URI without any user:password part, safe to print."""
    if is_lite_uri(uri):
        return uri
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connect(uri: str, token: str | None = None, idle_timeout_s: float | None = None) -> MilvusClient:
    """This process's client for ``uri``: made on first use (starting a Lite file's server if needed), then shared.

    Args:
        uri: A Milvus Lite ``.db`` path or a server address.
        token: Server token (Zilliz Cloud, servers with authentication).
        idle_timeout_s: For a Lite file whose server must be started: seconds without a request after
            which it stops by itself (default 900).

    Raises:
        ConfigError: A local path that does not end in ``.db``.
        StoreLockedError: A program other than mmrag_lab holds the Lite file.
        StoreError: The server cannot be reached or started.
    """
    key = _key(uri, token)
    with _clients_guard:
        if key not in _clients:
            _clients[key] = _open(uri, token, idle_timeout_s)
        return _clients[key]


def reconnect(uri: str, token: str | None = None, idle_timeout_s: float | None = None) -> MilvusClient:
    """Replace this process's client for ``uri`` after its connection failed (e.g. the Lite server died).

    For Milvus Lite this finds the file's live server, or starts a new one.
    """
    key = _key(uri, token)
    with _clients_guard:
        old = _clients.pop(key, None)
        if old is not None:
            try:
                old.close()
            except Exception:  # closing a client of a dead server may fail; it is dropped anyway
                pass
        _clients[key] = _open(uri, token, idle_timeout_s)
        return _clients[key]


def _key(uri: str, token: str | None) -> tuple[int, str, str]:
    # per process: a forked child must never share its parent's gRPC channel
    where = str(_check_lite_path(lite_path(uri))) if is_lite_uri(uri) else uri
    return os.getpid(), where, token or ""


def _open(uri: str, token: str | None, idle_timeout_s: float | None) -> MilvusClient:
    if not is_lite_uri(uri):
        return _new_client(uri, token or "", uri)
    timeout = lite_discovery.DEFAULT_IDLE_TIMEOUT_S if idle_timeout_s is None else idle_timeout_s
    return _new_client(lite_discovery.ensure_server(str(lite_path(uri)), timeout), "", uri)


def _new_client(address: str, token: str, uri: str) -> MilvusClient:
    try:
        return MilvusClient(uri=address, token=token, dedicated=True, grpc_options=dict(CLIENT_GRPC_OPTIONS))
    except MilvusException as exc:
        raise StoreError(
            f"Cannot reach the Milvus server at {display_uri(uri)} ({exc}). Check that it runs and that the "
            "URI and port are right; Zilliz Cloud and servers with authentication need MMRAG_MILVUS_TOKEN."
        ) from exc


def lite_path(uri: str) -> Path:
    """The absolute Milvus Lite folder for a local URI."""
    path = Path(os.path.expanduser(uri)).absolute()
    if path.suffix != ".db":
        raise ConfigError(
            f"Milvus URI {uri!r} is neither a server address (http://host:port) nor a Milvus Lite file: "
            "Milvus Lite paths must end in '.db', e.g. ./mmrag_lab.db."
        )
    return path


def _check_lite_path(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise StoreError(
            f"{path} is a file, but Milvus Lite 3 keeps a collection in a folder. It may come from Milvus "
            "Lite 2.x; pick a new path (e.g. --uri ./mmrag_lab3.db) and ingest again."
        )
    return path


def query_iterator(client: MilvusClient, collection: str, fields: list[str], filter: str, batch_size: int):
    return client.query_iterator(collection, batch_size=batch_size, filter=filter, output_fields=fields)


def error_text(exc: MilvusException) -> str:
    """The message of a Milvus error, without its class decoration."""
    return str(getattr(exc, "message", exc))


def lost_connection(exc: MilvusException) -> bool:
    """True when ``exc`` says the server could not be reached (rather than refusing the request)."""
    text = error_text(exc).lower()
    return any(s in text for s in ("fail connecting", "unavailable", "connection refused", "closed channel"))


def needs_load(exc: MilvusException) -> bool:
    """True when ``exc`` says the collection is released (a restarted Lite server starts that way)."""
    text = error_text(exc).lower()
    return "not loaded" in text or "state 'released'" in text or "call load()" in text
