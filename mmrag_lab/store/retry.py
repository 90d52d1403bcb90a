"""The store's one retry and recovery layer: every Milvus call of a :class:`Store` goes through :func:`call`.

A failed call is sent again only when the store's backend says a retry can mend the failure
(:meth:`~mmrag_lab.store.backends.base.Backend.recovery`): the collection was released (by another process,
or a restarted Milvus Lite server), so it is loaded again; or the connection to a Milvus Lite file's server
is gone, so the server is found or started again. Anything else (a malformed filter, a missing field, a
refused write) is sent once and raised as a :class:`~mmrag_lab.errors.StoreError`. Code above the store
never retries a store call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmrag_lab.errors import StoreError
from mmrag_lab.store.backends.base import RECONNECT, RELOAD, error_text

ATTEMPTS = 3  # the default of Config.milvus_attempts
# Calls that wait for the server's own work (sealing segments, building an index): no per-call deadline.
UNBOUNDED = frozenset({"flush", "load_collection", "create_index"})


def call(store: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """``store.client.<name>(*args, **kwargs)``, recovered and sent again as its backend allows.

    Each call waits at most ``config.milvus_timeout`` seconds (``MMRAG_MILVUS_TIMEOUT``) unless it is one
    of :data:`UNBOUNDED`, and is sent at most ``config.milvus_attempts`` times (``MMRAG_MILVUS_ATTEMPTS``).

    Raises:
        StoreError: Milvus refused the call (the message names the call, the collection and the reason).
    """
    from pymilvus.exceptions import MilvusException

    config = getattr(store, "config", None)
    attempts = getattr(config, "milvus_attempts", ATTEMPTS)
    if name not in UNBOUNDED and getattr(config, "milvus_timeout", None):
        kwargs.setdefault("timeout", config.milvus_timeout)
    for attempt in range(1, attempts + 1):
        try:
            return getattr(store.client, name)(*args, **kwargs)
        except MilvusException as exc:
            action = store.backend.recovery(exc) if attempt < attempts else None
            if action == RELOAD and name != "load_collection":
                store._loaded = False  # another process released it (an ingest's final index build)
                store.load()
            elif action == RECONNECT:
                store.reconnect()
            else:
                store.refresh()  # what it cached may be stale (dropped, re-created): the next call reads again
                raise _refused(store, name, exc) from exc
    raise AssertionError("unreachable")


def once(store: Any, function: Callable[[], Any], name: str) -> Any:
    """``function()`` sent once (e.g. the next page of an open iterator, which a new client cannot resume)."""
    from pymilvus.exceptions import MilvusException

    try:
        return function()
    except MilvusException as exc:
        raise _refused(store, name, exc) from exc


def _refused(store: Any, name: str, exc: Exception) -> StoreError:
    return StoreError(f"Milvus refused {name} on {store._where()}: {error_text(exc)}")
