"""The vector store: one Milvus collection of image embeddings, on Milvus Lite or a Milvus server.

The URI decides the backend (:mod:`mmrag_lab.store.backends`). A local path ending in ``.db`` is a Milvus
Lite data folder, served to every process by its own local server. ``http(s)://host:port`` is a Milvus
server or Zilliz Cloud; its token comes from ``Config.milvus_token`` (``MMRAG_MILVUS_TOKEN``). The schema, the index
and the record of the encoder that made the vectors are described in :mod:`mmrag_lab.store.schema`.

A :class:`Store` is cheap: it borrows the process's long-lived client, and the collection's record and
loaded state are kept per process, so a warm search is one search RPC.

Writes go through ``upsert``: a Milvus server keeps a second row when ``insert`` meets an existing
primary key, so only upsert makes a repeated write of the same file harmless.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from mmrag_lab import argtypes, checks
from mmrag_lab.config import Config
from mmrag_lab.errors import StoreError, StoreStalledError
from mmrag_lab.store import clients
from mmrag_lab.store.backends import backend_for
from mmrag_lab.store.caches import StoreBase
from mmrag_lab.store.keyword_search import StoreTextSearch, check_text_fields
from mmrag_lab.store.readiness import StoreChecks
from mmrag_lab.store.reads import StoreReads
from mmrag_lab.store.record import CollectionRecord
from mmrag_lab.store.rows import STRONG
from mmrag_lab.store.schema import build_schema
from mmrag_lab.store.text_fields import add_text_index
from mmrag_lab.store.writes import StoreWrites

if TYPE_CHECKING:  # the encoders package imports torch; the store must not need it
    from pymilvus import MilvusClient

    from mmrag_lab.encoders.base import EncoderInfo


class Store(StoreBase, StoreChecks, StoreReads, StoreWrites, StoreTextSearch):
    """One collection in Milvus Lite or on a Milvus server. Open it with :meth:`Store.open`.

    Any number of stores, in any number of processes, may be open on one collection at once. ``close()``
    (or leaving a ``with`` block) only lets go of this object: the connection stays for the next one.
    """

    def __init__(self, client: MilvusClient, uri: str, collection: str, config: Config):
        self.client = client
        self.uri = uri
        self.collection = collection
        self.config = config
        self.backend = backend_for(uri)
        self._token = config.milvus_token
        self._key = (uri, collection)

    @classmethod
    def open(
        cls,
        config: Config | str | None = None,
        *,
        collection: str | None = None,
        token: str | None = None,
        read_only: bool = False,
    ) -> Store:
        """Connect to the backend named by a config or a URI.

        Args:
            config: A :class:`Config`, a URI string, or None for ``Config.load()``.
            collection: Collection name; default ``config.collection``.
            token: Server token; default ``config.milvus_token``.
            read_only: The caller only reads: a URI that names no existing database is refused before
                anything is created or started (``mmrag info`` and ``search`` never make a Lite folder).

        Raises:
            CollectionNotFoundError: ``read_only`` and there is no database at the URI.
            StoreLockedError: A program other than mmrag_lab holds the Milvus Lite file.
            StoreError: The backend cannot be reached.
        """
        if isinstance(config, (str, os.PathLike)):
            config = Config.load(milvus_uri=config)
        config = (
            argtypes.instance("config", config, Config, "or a URI; e.g. Config.load(...)") or Config.load()
        )
        collection = None if collection is None else checks.collection_name("collection", collection)
        argtypes.text("token", token), argtypes.flag("read_only", read_only)
        if read_only:
            backend_for(config.milvus_uri).check_readable()
        client = clients.connect(
            config.milvus_uri, token or config.milvus_token, config.lite_idle_timeout,
            config.milvus_connect_timeout,
        )  # fmt: skip
        store = cls(client, config.milvus_uri, collection or config.collection, config)
        store._token = token or config.milvus_token
        return store

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.collection!r} on {self.backend.label} {self.backend.display_uri()})"

    def exists(self) -> bool:
        """True when the collection exists."""
        return bool(self._call("has_collection", self.collection))

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
        metric = (metric or self.config.metric).upper()
        if text_fields:
            self.require_text_search("--text-fields")
        if not self.exists():
            new = CollectionRecord.for_encoder(info, metric, self.config.index_type)
            self._create(replace(new, text_fields=tuple(text_fields)))
        record = self.open_collection("ingest", info, metric=metric)
        check_text_fields(record, tuple(text_fields), self._where())
        types = {key: "text" for key in metadata_keys} | dict(metadata_types or {})
        self.add_metadata_types(types)
        return self.record() or record

    def record(self) -> CollectionRecord | None:
        """The collection's record (which encoder made it), or None if it has none."""
        if self._record is None:
            description = self._call("describe_collection", self.collection)
            self._record = CollectionRecord.from_properties(description.get("properties") or {})
        return self._record

    def cached_record(self) -> CollectionRecord | None:
        """The record this process already read, without asking the backend."""
        return self._record

    def refresh(self) -> None:
        """Forget what this process cached about the collection; the next call asks the backend again."""
        self._record = None
        self._loaded = False

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
        record = self._require_record()
        name, changed = record.root_name(folder, moved)
        if changed:
            self.write_record(record.with_root(name, folder))
        return name

    def write_record(self, record: CollectionRecord) -> None:
        """Store ``record`` as the collection's record (only when it changed)."""
        if record != self.record():
            self._call("alter_collection_properties", self.collection, record.to_properties())
        self._record = record

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        self._call("drop_collection", self.collection)
        self._record = None
        self._loaded = False

    def close(self) -> None:
        """Let go of this store. The process's connection stays open for the next store (see the module)."""

    def _create(self, record: CollectionRecord) -> None:
        try:
            self._call(
                "create_collection",
                self.collection,
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
        self._record = None

    def _index_params(self, record: CollectionRecord):
        index = self.backend.index_params(self.client, record.index_type, record.metric)
        if record.text_fields:
            add_text_index(index)
        return index

    def load(self) -> None:
        """Load the collection into memory for search and query (once; a reopened Lite file starts released)."""
        if not self._loaded:
            self._call("load_collection", self.collection)
            self._loaded = True
