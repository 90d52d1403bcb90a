"""Connecting to the backend a URI names, with one long-lived client per (URI, token) in a process.

Which backend a URI names, and how it connects, is decided in :mod:`mmrag_lab.store.backends`. Either way
the client is opened once per process and kept: an open costs RPCs (and, on Zilliz Cloud, rate-limited
ones), so stores borrow it and never close it.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

from mmrag_lab.store.backends import backend_for, display_uri

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = ["connect", "display_uri", "query_iterator", "reconnect"]
_clients: dict[tuple[int, str, str], MilvusClient] = {}
_clients_guard = threading.Lock()


class _QuietPymilvus(logging.Filter):
    """Drops what pymilvus logs about a call that failed: the Store raises it as a StoreError that says
    what to do, so the log would only put a traceback (40 lines per call) in front of the user."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName == "_log_rpc_error" or record.exc_info:  # a failed call, with its traceback
            return False
        message = record.getMessage()
        return not any(fragment in message for fragment in _NOISE)


class _DropNotImplemented(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[0] is NotImplementedError)


# Noise, not news: a failed call (the Store raises it), pymilvus' own retry giving up (its exception says
# so), a failed reconnect to a Lite server that went away (the Store recovers), and the MVCC timestamp that a
# query iterator asks of Milvus Lite, which does not implement it (the iterator works on).
_NOISE = ("Retry timeout", "Retry run out", "Connection recovery failed", "mvccTs")
for _name in (
    "decorators",
    "client.connection_manager",
    "client.grpc_handler",
    "client.iterator.query_iterator",
):
    logging.getLogger(f"pymilvus.{_name}").addFilter(_QuietPymilvus())
logging.getLogger("grpc._server").addFilter(_DropNotImplemented())


def connect(
    uri: str,
    token: str | None = None,
    idle_timeout_s: float | None = None,
    connect_timeout_s: float | None = None,
) -> MilvusClient:
    """This process's client for ``uri``: made on first use (starting a Lite file's server if needed), then shared.

    Args:
        uri: A Milvus Lite ``.db`` path or a server address.
        token: Server token (Zilliz Cloud, servers with authentication).
        idle_timeout_s: For a Lite file whose server must be started: seconds without a request after
            which it stops by itself (default 900).
        connect_timeout_s: Seconds to wait for the server to answer (default 10).

    Raises:
        ConfigError: A local path that does not end in ``.db``.
        StoreLockedError: A program other than mmrag_lab holds the Lite file.
        StoreError: The server cannot be reached or started.
    """
    key = _key(uri, token)
    with _clients_guard:
        if key in _clients and not backend_for(uri).same_database():
            _close(_clients.pop(key))  # its Lite folder was deleted since: a new open starts afresh
        if key not in _clients:
            _clients[key] = backend_for(uri).open_client(token or "", idle_timeout_s, connect_timeout_s)
        return _clients[key]


def reconnect(
    uri: str,
    token: str | None = None,
    idle_timeout_s: float | None = None,
    connect_timeout_s: float | None = None,
) -> MilvusClient:
    """Replace this process's client for ``uri`` after its connection failed (e.g. the Lite server died).

    For Milvus Lite this finds the file's live server, or starts a new one.
    """
    key = _key(uri, token)
    with _clients_guard:
        old = _clients.pop(key, None)
        if old is not None:
            _close(old)
        _clients[key] = backend_for(uri).open_client(token or "", idle_timeout_s, connect_timeout_s)
        return _clients[key]


def _close(client: MilvusClient) -> None:
    try:
        client.close()
    except Exception:  # closing a client of a dead server may fail; it is dropped anyway
        pass


def _key(uri: str, token: str | None) -> tuple[int, str, str]:
    # per process: a forked child must never share its parent's gRPC channel
    return os.getpid(), backend_for(uri).client_key(), token or ""


def query_iterator(
    client: MilvusClient, collection: str, fields: list[str], filter: str, batch_size: int, timeout=None
):
    """An iterator over ``collection``; each of its calls waits at most ``timeout`` seconds (None: no limit)."""
    return client.query_iterator(
        collection, batch_size=batch_size, filter=filter, output_fields=fields, timeout=timeout
    )
