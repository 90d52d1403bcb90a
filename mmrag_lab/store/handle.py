"""What reads, writes and collection management share: one collection on one backend, its caches, its calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mmrag_lab.store import clients, retry
from mmrag_lab.store.backends import backend_for
from mmrag_lab.store.record import CollectionRecord

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from mmrag_lab.config import Config
    from mmrag_lab.store.filters import Dialect


class CollectionHandle:
    """One collection on one backend, reached through the process's client.

    :class:`~mmrag_lab.store.reads.Reads`, :class:`~mmrag_lab.store.writes.Writes` and
    :class:`~mmrag_lab.store.manager.CollectionManager` each take one. It holds what they all need: the
    client, the backend picked from the URI, the collection's name, every Milvus call through the one retry
    layer (:mod:`mmrag_lab.store.retry`), and what this process knows about the collection, kept per
    (URI, collection) so that every handle on it shares it: its record, read once, and whether it is loaded.
    Loading belongs here because the retry layer loads a collection that another process released.
    """

    def __init__(
        self, client: MilvusClient, uri: str, collection: str, config: Config, token: str | None = None
    ):
        self.client = client
        self.uri = uri
        self.collection = collection
        self.config = config
        self.token = config.milvus_token if token is None else token
        self.backend = backend_for(uri)
        self.key = (uri, collection)

    @property
    def record(self) -> CollectionRecord | None:
        """The collection's record as this process last read or wrote it (None: not read yet)."""
        return _records.get(self.key)

    @record.setter
    def record(self, record: CollectionRecord | None) -> None:
        if record is None:
            _records.pop(self.key, None)
        else:
            _records[self.key] = record

    @property
    def loaded(self) -> bool:
        """Whether this process has loaded the collection (and no failure since said it was released)."""
        return self.key in _loaded

    @loaded.setter
    def loaded(self, loaded: bool) -> None:
        if loaded:
            _loaded.add(self.key)
        else:
            _loaded.discard(self.key)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``client.<name>(*args, **kwargs)`` through the retry layer."""
        return retry.call(self, name, *args, **kwargs)

    def once(self, function: Callable[[], Any], name: str) -> Any:
        """``function()`` sent once, its failure said as the retry layer says it (an open iterator's page)."""
        return retry.once(self, function, name)

    def load(self) -> None:
        """Load the collection for search and query (once; a reopened Lite file starts released)."""
        if not self.loaded:
            self.call("load_collection", self.collection)
            self.loaded = True

    def release(self) -> None:
        """Release the collection from memory. Writes still work; the next read loads it again.

        Ingest releases a Milvus Lite collection while writing, so that its automatic flushes do not build
        indexes in the background that :meth:`~mmrag_lab.store.writes.Writes.flush_and_load` would build
        again.
        """
        self.call("release_collection", self.collection)
        self.loaded = False

    def forget(self) -> None:
        """Forget the cached record and loaded state; the next call asks the backend again."""
        self.record = None
        self.loaded = False

    def reconnect(self) -> None:
        """Replace this process's client after its connection failed; every collection is loaded again."""
        self.client = clients.reconnect(
            self.uri, self.token, self.config.lite_idle_timeout, self.config.milvus_connect_timeout
        )
        _loaded.clear()

    def where(self) -> str:
        """The collection and its backend, as messages name them."""
        return f"Collection {self.collection!r} at {self.backend.display_uri()}"

    def dialect(self) -> Dialect:
        """The filter dialect of the backend (see :mod:`mmrag_lab.store.filters`)."""
        return self.backend.dialect(self.client)

    def server_version(self) -> str:
        """The backend's version string, or "" when it does not say."""
        return self.backend.server_version(self.client)

    def supports_partial_update(self) -> bool:
        """True when ``upsert(..., partial_update=True)`` works: Milvus Lite 3.x and servers >= 2.6."""
        return self.backend.supports_partial_update(self.client)


# Per process, per (URI, collection): the record read once, and whether the collection is loaded.
_records: dict[tuple[str, str], CollectionRecord] = {}
_loaded: set[tuple[str, str]] = set()
