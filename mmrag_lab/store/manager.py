"""Collection management: making one collection, its record, the one check before use, and dropping it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mmrag_lab.errors import StoreError, StoreStalledError
from mmrag_lab.store import readiness
from mmrag_lab.store.keyword_search import check_text_fields, refuse_without_text_search
from mmrag_lab.store.record import CollectionRecord
from mmrag_lab.store.rows import STRONG
from mmrag_lab.store.schema import build_schema
from mmrag_lab.store.text_fields import add_text_index

if TYPE_CHECKING:  # the encoders package imports torch; the store must not need it
    from mmrag_lab.encoders.base import EncoderInfo
    from mmrag_lab.store.handle import CollectionHandle


class CollectionManager:
    """The collection itself, through a :class:`~mmrag_lab.store.handle.CollectionHandle`: whether it
    exists, making it for an encoder, its record (which encoder made it, its folders, its metadata types),
    the one check before use (:mod:`mmrag_lab.store.readiness`), and dropping it."""

    def __init__(self, handle: CollectionHandle):
        self.handle = handle

    def exists(self) -> bool:
        """True when the collection exists."""
        return bool(self.handle.call("has_collection", self.handle.collection))

    def names(self) -> list[str]:
        """The names of every collection on the backend (this one's or not), sorted."""
        return sorted(self.handle.call("list_collections"))

    def record(self) -> CollectionRecord | None:
        """The collection's record (which encoder made it), or None if it has none; read once per process."""
        if self.handle.record is None:
            description = self.handle.call("describe_collection", self.handle.collection)
            self.handle.record = CollectionRecord.from_properties(description.get("properties") or {})
        return self.handle.record

    def cached_record(self) -> CollectionRecord | None:
        """The record this process already read, without asking the backend."""
        return self.handle.record

    def refresh(self) -> None:
        """Forget what this process cached about the collection; the next call asks the backend again."""
        self.handle.forget()

    def require_record(self, current: bool = True) -> CollectionRecord:
        """The record of a collection mmrag_lab made, in the current format if ``current``.

        Raises:
            ForeignCollectionError: mmrag_lab did not make it.
            SchemaOutdatedError: ``current`` and it has the older format.
        """
        handle = self.handle
        return readiness.require_record(
            self.record(), handle.where(), handle.backend.display_uri(), handle.collection, current
        )

    def open_collection(
        self, purpose: str, encoder: EncoderInfo | None = None, *, metric: str | None = None
    ) -> CollectionRecord:
        """The collection's record, once it is fit for ``purpose``; loaded, except for ``migrate``.

        Args:
            purpose: One of ``search``, ``evaluate``, ``inspect``, ``ingest``, ``migrate``.
            encoder: The encoder that will read or write vectors; None skips the encoder check.
            metric: The metric the caller wants (ingest); default: the collection's.

        Raises:
            CollectionNotFoundError: It does not exist (the message says how to make it).
            ForeignCollectionError: mmrag_lab did not make it.
            SchemaOutdatedError: It has the older format (the message names ``mmrag migrate``).
            EncoderMismatchError: Another encoder made its vectors (the message names both).
        """
        readiness.check_purpose(purpose)
        if purpose in ("ingest", "migrate"):
            self.refresh()  # another process may have changed the record since this one read it
        if self.cached_record() is None and not self.exists():
            raise readiness.not_found(self.handle.collection, self.handle.backend.display_uri(), purpose)
        record = self.require_record(current=readiness.needs_current_format(purpose))
        if encoder is not None:
            readiness.check_encoder(record, encoder, metric, self.handle.where(), purpose)
        if purpose != "migrate":
            self.handle.load()
        return record

    def ensure_collection(
        self,
        info: EncoderInfo,
        *,
        metadata_keys: Iterable[str] = (),
        metric: str | None = None,
        metadata_types: dict[str, str] | None = None,
        text_fields: tuple[str, ...] = (),
    ) -> CollectionRecord:
        """Create the collection for ``info``'s vectors, or check that an existing one matches.

        Args:
            info: The encoder that will make the vectors.
            metadata_keys: Sidecar keys to add to the record (typed ``text`` unless ``metadata_types``
                says otherwise).
            metric: Vector metric; default ``config.metric`` (COSINE).
            metadata_types: Sidecar column types to add to the record.
            text_fields: Sidecar columns to join into an analysed, BM25-searchable text field (a new
                collection gets it; an existing one must already have these, see ``mmrag migrate``).

        Raises:
            TextSearchUnsupportedError: ``text_fields`` on a backend without BM25 (the 2.3 server).
            ConfigError: ``text_fields`` differ from the existing collection's.
            SchemaOutdatedError: The collection has the older, content-hash keyed schema; the message
                names the ``mmrag migrate`` command.
            EncoderMismatchError: The collection was made by another encoder, dimension, metric or
                weights; the message names both sides.
            ForeignCollectionError: mmrag_lab did not make the collection.
        """
        metric = (metric or self.handle.config.metric).upper()
        if text_fields:
            refuse_without_text_search(self.handle, "--text-fields")
        if not self.exists():
            new = CollectionRecord.for_encoder(info, metric, self.handle.config.index_type)
            self.create(replace(new, text_fields=tuple(text_fields)))
        record = self.open_collection("ingest", info, metric=metric)
        check_text_fields(record, tuple(text_fields), self.handle.where())
        types = {key: "text" for key in metadata_keys} | dict(metadata_types or {})
        self.add_metadata_types(types)
        return self.record() or record

    def create(self, record: CollectionRecord) -> None:
        """Make the collection with the one schema and index, and ``record`` as its record.

        Another process may make it first: then this one goes on, and the caller compares records."""
        handle = self.handle
        try:
            handle.call(
                "create_collection",
                handle.collection,
                schema=build_schema(record.dim, text=bool(record.text_fields)),
                index_params=self._index_params(record),
                consistency_level=STRONG,
                properties=record.to_properties(),
            )
        except StoreStalledError:
            raise
        except StoreError:
            if not self.exists():  # another process may have created it first; then compare records
                raise
        handle.record = None

    def _index_params(self, record: CollectionRecord) -> Any:
        index = self.handle.backend.index_params(self.handle.client, record.index_type, record.metric)
        if record.text_fields:
            add_text_index(index)
        return index

    def add_metadata_types(self, types: dict[str, str]) -> None:
        """Add sidecar columns and their types to the record (a known column keeps the wider type)."""
        record = self.record()
        if record is None or not types:
            return
        self.write_record(record.with_metadata_types(types))

    def register_root(self, folder: str, moved: Callable[[str], bool] | None = None) -> str:
        """The root name for rows under ``folder`` (absolute); a new or moved folder is recorded.

        ``moved(name)`` says whether the folder is the vanished folder recorded as ``name`` (see
        :meth:`CollectionRecord.root_name`)."""
        record = self.require_record()
        name, changed = record.root_name(folder, moved)
        if changed:
            self.write_record(record.with_root(name, folder))
        return name

    def write_record(self, record: CollectionRecord) -> None:
        """Store ``record`` as the collection's record (only when it changed)."""
        if record != self.record():
            self.handle.call("alter_collection_properties", self.handle.collection, record.to_properties())
        self.handle.record = record

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        self.handle.call("drop_collection", self.handle.collection)
        self.handle.forget()
