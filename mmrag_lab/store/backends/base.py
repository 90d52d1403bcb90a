"""The interface of a vector backend: everything that differs between Milvus Lite and a Milvus server.

A backend is chosen from the URI, once, by :func:`mmrag_lab.store.backends.backend_for`; one implementation
per file (:mod:`.lite`, :mod:`.server`). The rest of the store (schema, record, rows, filters, the retry
layer) is the same for every backend and asks its backend for the few facts that differ: how to connect,
the filter dialect, the index parameters and default search breadth, the server version, whether partial
upserts work, how written rows are sealed and indexed, and which failures a retry can mend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag_lab.store.backends.connect import needs_load
from mmrag_lab.store.filters import Dialect, dialect_for
from mmrag_lab.store.schema import build_index

if TYPE_CHECKING:
    from pymilvus import MilvusClient

# What the retry layer (:mod:`mmrag_lab.store.retry`) does about a failed call.
RELOAD = "reload"  # the collection was released (another process, a restarted server): load it, call again
RECONNECT = "reconnect"  # the connection is gone: make a new client, call again
REPAIR = "repair"  # the remains of an interrupted write are in the way: clear them, call again


class Backend(ABC):
    """What one kind of Milvus deployment does its own way. Implement this for a new backend.

    Attributes:
        uri: The URI as the user gave it.
        name: Short machine name (``describe()["backend"]``), e.g. ``"milvus-lite"``.
        label: What a person reads, e.g. ``"Milvus Lite"``.
        search_ef: HNSW search breadth when a search gives none.
        bm25_sign: What turns the backend's plain BM25 search distances into scores where higher is
            better (Milvus Lite 3.2.2 reports them negated; fused ``hybrid_search`` scores are not).
    """

    name: str
    label: str
    search_ef: int
    bm25_sign: float = 1.0

    def __init__(self, uri: str):
        self.uri = uri
        self._version: str | None = None

    @staticmethod
    @abstractmethod
    def accepts(uri: str) -> bool:
        """True when ``uri`` names a deployment of this kind."""

    @abstractmethod
    def client_key(self) -> str:
        """What identifies the deployment in the per-process client cache (validates the URI).

        Raises:
            ConfigError: The URI cannot name this backend.
        """

    @abstractmethod
    def open_client(
        self, token: str, idle_timeout_s: float | None, connect_timeout_s: float | None = None
    ) -> MilvusClient:
        """A new client for the deployment (starting a local server if the backend has one), waiting at most
        ``connect_timeout_s`` seconds for it to answer."""

    def check_readable(self) -> None:
        """Refuse, before anything is started or created, a URI that names no existing database.

        Read-only commands (``mmrag info``, ``mmrag search``) call this first. A server says so itself.
        """
        return None

    @abstractmethod
    def display_uri(self) -> str:
        """The URI with any credentials removed, safe to print."""

    @abstractmethod
    def supports_partial_update(self, client: MilvusClient) -> bool:
        """True when ``upsert(..., partial_update=True)`` works."""

    @abstractmethod
    def seal(self, handle: Any, index_timeout: float) -> None:
        """Make written rows durable and build their index (the backend's half of ``flush_and_load``).

        ``handle`` is the collection's :class:`~mmrag_lab.store.handle.CollectionHandle`."""

    def text_search_refusal(self, client: MilvusClient) -> str | None:
        """Why this deployment cannot hold analysed text with a BM25 function and fuse it with the vector
        search (``hybrid_search``), or None when it can: what ``--text-fields`` and ``--keywords`` need."""
        return None

    def index_params(self, client: MilvusClient, index_type: str, metric: str) -> Any:
        """The vector index a new collection gets (both backends take the same HNSW/AUTOINDEX/FLAT)."""
        return build_index(client, index_type, metric)

    def dialect(self, client: MilvusClient) -> Dialect:
        """What the backend's filter expressions can do (from its version)."""
        return dialect_for(self.server_version(client))

    def server_version(self, client: MilvusClient) -> str:
        """The backend's version string (asked once), or "" when it does not say."""
        if self._version is None:
            try:
                self._version = str(client.get_server_version())
            except Exception:  # an unknown version gets the modern filter dialect
                self._version = ""
        return self._version

    def recovery(self, exc: Exception) -> str | None:
        """What a retry needs to mend ``exc`` (:data:`RELOAD`, :data:`RECONNECT`, :data:`REPAIR`), or None:
        do not retry.

        Raises:
            StoreError: ``exc`` shows a failure no retry can mend (e.g. the database itself was deleted).
        """
        return RELOAD if needs_load(exc) else None

    def repair(self, collection: str) -> None:
        """Clear the remains of an interrupted write that stand in the way of ``collection`` (:data:`REPAIR`)."""
        return None

    def same_database(self) -> bool:
        """False when the database this process's client was opened on is gone (a deleted Lite folder)."""
        return True

    def served_file(self) -> Path | None:
        """The local file this backend serves through a server process of its own, or None."""
        return None

    def silent_server_advice(self) -> str | None:
        """What to do when this backend's own server is alive but silent (stopped, hung), else None."""
        return None

    def stalled_advice(self) -> str:
        """What to do when a call got no answer in time (the server is stopped, overloaded or hung)."""
        return self.silent_server_advice() or (
            f"Check that the server at {self.display_uri()} runs and is not overloaded, then run the command "
            "again; a server that is slow on purpose (a large load or index build) may need a longer "
            "MMRAG_MILVUS_TIMEOUT."
        )
