"""Vector backends: one class per kind of Milvus deployment, behind :class:`~.base.Backend`.

:func:`backend_for` is the one place a URI picks its backend: a local path ending in ``.db`` is Milvus Lite
(:mod:`.lite`), ``http(s)://host:port`` (or another server scheme) a Milvus server or Zilliz Cloud
(:mod:`.server`). Code outside the store never imports an implementation; it asks a
:class:`~mmrag_lab.store.vector_store.Store` (``store.backend``, ``store.dialect()``).
"""

from __future__ import annotations

import functools

from mmrag_lab.store.backends.base import Backend
from mmrag_lab.store.backends.lite import LiteBackend
from mmrag_lab.store.backends.server import ServerBackend

__all__ = ["BACKENDS", "Backend", "backend_for", "display_uri"]
# Asked in order; the first class that accepts a URI serves it. A new backend adds its class here.
BACKENDS: tuple[type[Backend], ...] = (LiteBackend, ServerBackend)


@functools.lru_cache(maxsize=64)
def backend_for(uri: str) -> Backend:
    """The backend a URI names (one object per URI in a process, so that its version is asked once)."""
    return next(kind for kind in BACKENDS if kind.accepts(uri))(uri)


def display_uri(uri: str) -> str:
    """The URI without any user:password part, safe to print."""
    return backend_for(uri).display_uri()
