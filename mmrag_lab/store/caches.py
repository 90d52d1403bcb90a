"""What every Store shares within a process: its backend, the collection's cached record and loaded state,
and the calls that go through the store's one retry layer (:mod:`mmrag_lab.store.retry`)."""

from __future__ import annotations

from typing import Any

from mmrag_lab.store import clients, retry
from mmrag_lab.store.backends.base import Backend
from mmrag_lab.store.record import CollectionRecord


class StoreBase:
    """Per-process state keyed by (URI, collection); :class:`~mmrag_lab.store.vector_store.Store` builds on it."""

    client: Any
    backend: Backend
    uri: str
    collection: str
    config: Any
    _key: tuple[str, str]
    _token: str | None

    @property
    def _record(self) -> CollectionRecord | None:
        return _records.get(self._key)

    @_record.setter
    def _record(self, record: CollectionRecord | None) -> None:
        if record is None:
            _records.pop(self._key, None)
        else:
            _records[self._key] = record

    @property
    def _loaded(self) -> bool:
        return self._key in _loaded

    @_loaded.setter
    def _loaded(self, loaded: bool) -> None:
        if loaded:
            _loaded.add(self._key)
        else:
            _loaded.discard(self._key)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``self.client.<name>(...)`` through the retry layer."""
        return retry.call(self, name, *args, **kwargs)

    def reconnect(self) -> None:
        """Replace this process's client after its connection failed; every collection is loaded again."""
        self.client = clients.reconnect(
            self.uri, self._token, self.config.lite_idle_timeout, self.config.milvus_connect_timeout
        )
        _loaded.clear()

    def dialect(self):
        """The filter dialect of this store's backend (see :mod:`mmrag_lab.store.filters`)."""
        return self.backend.dialect(self.client)

    def server_version(self) -> str:
        """The backend's version string, or "" when it does not say."""
        return self.backend.server_version(self.client)

    def supports_partial_update(self) -> bool:
        """True when ``upsert(..., partial_update=True)`` works: Milvus Lite 3.x and servers >= 2.6."""
        return self.backend.supports_partial_update(self.client)

    def _where(self) -> str:
        return f"Collection {self.collection!r} at {self.backend.display_uri()}"


# Per process, per (URI, collection): the record read once, and whether the collection is loaded.
_records: dict[tuple[str, str], CollectionRecord] = {}
_loaded: set[tuple[str, str]] = set()
