"""The store's one retry and recovery layer: every Milvus call of a collection goes through :func:`call`.

Reads, writes and collection management call through their :class:`~mmrag_lab.store.handle.CollectionHandle`.

A failed call is sent again only when the store's backend says a retry can mend the failure
(:meth:`~mmrag_lab.store.backends.base.Backend.recovery`): the collection was released (by another process,
or a restarted Milvus Lite server), so it is loaded again; the connection to a Milvus Lite file's server
is gone, so the server is found or started again (unless the file itself was deleted: that is said, not
mended); or the remains of an interrupted write stand in the way, so they are cleared. Anything else (a
malformed filter, a missing field, a refused write) is sent once and raised as a
:class:`~mmrag_lab.errors.StoreError`; a call the server did not answer in time as a
:class:`~mmrag_lab.errors.StoreStalledError` that says what to do. Whatever the client raises (pymilvus'
errors, or a raw gRPC error such as a deadline) leaves the store as one of these, never as its own. Code above the store never retries a store call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mmrag_lab.errors import StoreError, StoreFailedError, StoreStalledError
from mmrag_lab.store.backends.base import RECONNECT, RELOAD, REPAIR
from mmrag_lab.store.backends.connect import error_text, failures, lost_connection, timed_out

if TYPE_CHECKING:
    from mmrag_lab.store.handle import CollectionHandle

ATTEMPTS = 3  # the default of Config.milvus_attempts
# Calls that wait for the server's own work (sealing segments, building an index): no per-call deadline.
UNBOUNDED = frozenset({"flush", "load_collection", "create_index"})


def call(handle: CollectionHandle, name: str, *args: Any, **kwargs: Any) -> Any:
    """``handle.client.<name>(*args, **kwargs)``, recovered and sent again as the handle's backend allows.

    Each call waits at most ``config.milvus_timeout`` seconds (``MMRAG_MILVUS_TIMEOUT``) unless it is one
    of :data:`UNBOUNDED`, and is sent at most ``config.milvus_attempts`` times (``MMRAG_MILVUS_ATTEMPTS``).

    Raises:
        StoreStalledError: Milvus did not answer in time (the message says what to do).
        StoreFailedError: Milvus refused the call (the message names the call, the collection and the reason).
    """
    config = handle.config
    attempts = getattr(config, "milvus_attempts", ATTEMPTS)
    if name not in UNBOUNDED and getattr(config, "milvus_timeout", None):
        kwargs.setdefault("timeout", config.milvus_timeout)
    for attempt in range(1, attempts + 1):
        try:
            return getattr(handle.client, name)(*args, **kwargs)
        except failures() as exc:
            action = handle.backend.recovery(exc)  # it may raise: a failure no retry can mend
            action = action if attempt < attempts else None
            if action == RELOAD and name != "load_collection":
                handle.loaded = False  # another process released it (an ingest's final index build)
                handle.load()
            elif action == RECONNECT:
                handle.reconnect()
            elif action == REPAIR:
                handle.backend.repair(handle.collection)
            else:
                if not timed_out(exc):  # a silent server changed nothing; a refusal may mean stale caches
                    handle.forget()  # (dropped, re-created): the next call reads again
                raise _refused(handle, name, exc) from exc
    raise AssertionError("unreachable")


def once(handle: CollectionHandle, function: Callable[[], Any], name: str) -> Any:
    """``function()`` sent once (e.g. the next page of an open iterator, which a new client cannot resume)."""
    try:
        return function()
    except failures() as exc:
        raise _refused(handle, name, exc) from exc


def _refused(handle: CollectionHandle, name: str, exc: Exception) -> StoreError:
    # a deadline, or a connection that failed because the store's own server is alive but silent
    silent = lost_connection(exc) and handle.backend.silent_server_advice()
    if timed_out(exc) or silent:
        return StoreStalledError(
            f"Milvus did not answer {name} on {handle.where()} in time ({error_text(exc)}). "
            + (silent or handle.backend.stalled_advice())
        )
    return StoreFailedError(f"Milvus refused {name} on {handle.where()}: {error_text(exc)}")
