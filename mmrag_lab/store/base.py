"""What every Store shares within a process: the collection's cached record and loaded state, and calls
that recover from a released collection or a Milvus Lite server that went away."""

from __future__ import annotations

from typing import Any

from pymilvus.exceptions import MilvusException

from mmrag_lab.errors import StoreError
from mmrag_lab.store import backend
from mmrag_lab.store.record import CollectionRecord


class StoreBase:
    """Per-process state keyed by (URI, collection); :class:`~mmrag_lab.store.collection.Store` builds on it."""

    client: Any
    uri: str
    collection: str
    is_lite: bool
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

    def _call(self, method, *args, **kwargs):
        name = getattr(method, "__name__", "a call")
        own = getattr(method, "__self__", None) is self.client
        for attempt in range(3):
            try:
                return (getattr(self.client, name) if attempt and own else method)(*args, **kwargs)
            except MilvusException as exc:
                text = backend.error_text(exc)
                if attempt < 2 and own and backend.needs_load(exc) and name != "load_collection":
                    self._loaded = False  # another process released it (an ingest's final index build)
                    self.load()
                elif attempt < 2 and own and self.is_lite and backend.lost_connection(exc):
                    # the Lite server went away (killed, or stopped while idle): find or start it
                    self.client = backend.reconnect(self.uri, self._token, self.config.lite_idle_timeout)
                    _loaded.clear()
                else:
                    raise StoreError(f"Milvus refused {name} on {self._where()}: {text}") from exc
        raise AssertionError("unreachable")


# Per process, per (URI, collection): the record read once, and whether the collection is loaded.
_records: dict[tuple[str, str], CollectionRecord] = {}
_loaded: set[tuple[str, str]] = set()
