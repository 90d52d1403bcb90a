"""The vector store: one Milvus collection of image embeddings, on Milvus Lite or a Milvus server.

The URI decides the backend (:mod:`mmrag_lab.store.backends`). A local path ending in ``.db`` is a Milvus
Lite data folder, served to every process by its own local server. ``http(s)://host:port`` is a Milvus
server or Zilliz Cloud; its token comes from ``Config.milvus_token`` (``MMRAG_MILVUS_TOKEN``). The schema, the index
and the record of the encoder that made the vectors are described in :mod:`mmrag_lab.store.schema`.

A :class:`Store` is cheap: it borrows the process's long-lived client, and the collection's record and
loaded state are kept per process, so a warm search is one search RPC.

A :class:`Store` is made of three parts, each of which can be read, built and tested alone, over one
:class:`~mmrag_lab.store.handle.CollectionHandle` (the client, the backend, the collection's name, its
per-process caches and the retry layer's call): ``store.reads`` (:class:`~mmrag_lab.store.reads.Reads`),
``store.writes`` (:class:`~mmrag_lab.store.writes.Writes`) and ``store.manager``
(:class:`~mmrag_lab.store.manager.CollectionManager`: create, check, record, drop). Its own methods pass each
call on to the part that does it.

Writes go through ``upsert``: a Milvus server keeps a second row when ``insert`` meets an existing
primary key, so only upsert makes a repeated write of the same file harmless.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from mmrag_lab import argtypes, checks
from mmrag_lab.config import Config
from mmrag_lab.store import clients
from mmrag_lab.store.backends import backend_for
from mmrag_lab.store.backends.base import Backend
from mmrag_lab.store.handle import CollectionHandle
from mmrag_lab.store.keyword_search import RRF_K, TextSearch
from mmrag_lab.store.manager import CollectionManager
from mmrag_lab.store.reads import Reads
from mmrag_lab.store.record import CollectionRecord
from mmrag_lab.store.writes import Writes

if TYPE_CHECKING:  # the encoders package imports torch; the store must not need it
    from pymilvus import MilvusClient

    from mmrag_lab.encoders.base import EncoderInfo
    from mmrag_lab.store.filters import Dialect

_F = TypeVar("_F", bound=Callable[..., Any])


def _doc(part: Callable[..., Any]) -> Callable[[_F], _F]:
    """Give a passing-on method the documentation of the part's method that does the work."""

    def give(method: _F) -> _F:
        method.__doc__ = part.__doc__
        return method

    return give


class Store:
    """One collection in Milvus Lite or on a Milvus server. Open it with :meth:`Store.open`.

    Any number of stores, in any number of processes, may be open on one collection at once. ``close()``
    (or leaving a ``with`` block) only lets go of this object: the connection stays for the next one.

    Attributes:
        handle: What the parts share (:class:`~mmrag_lab.store.handle.CollectionHandle`).
        manager: Collection management (:class:`~mmrag_lab.store.manager.CollectionManager`).
        reads: Reading rows (:class:`~mmrag_lab.store.reads.Reads`).
        writes: Writing rows (:class:`~mmrag_lab.store.writes.Writes`).
    """

    def __init__(
        self, client: MilvusClient, uri: str, collection: str, config: Config, token: str | None = None
    ):
        self.handle = CollectionHandle(client, uri, collection, config, token)
        self.manager = CollectionManager(self.handle)
        self.reads = Reads(self.handle, self.manager)
        self.writes = Writes(self.handle, self.reads)
        self.text = TextSearch(self.handle, self.manager, self.reads)

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
        token = token or config.milvus_token
        client = clients.connect(
            config.milvus_uri, token, config.lite_idle_timeout, config.milvus_connect_timeout
        )
        return cls(client, config.milvus_uri, collection or config.collection, config, token)

    # --- what the parts share ---
    @property
    def client(self) -> MilvusClient:
        """This process's client of the backend (replaced when its connection fails)."""
        return self.handle.client

    @property
    def uri(self) -> str:
        """The URI as the user gave it."""
        return self.handle.uri

    @property
    def collection(self) -> str:
        """The collection's name."""
        return self.handle.collection

    @property
    def config(self) -> Config:
        """The configuration the store was opened with."""
        return self.handle.config

    @property
    def backend(self) -> Backend:
        """The backend picked from the URI (:mod:`mmrag_lab.store.backends`)."""
        return self.handle.backend

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.collection!r} on {self.backend.label} {self.backend.display_uri()})"

    def close(self) -> None:
        """Let go of this store. The process's connection stays open for the next store (see the module)."""

    @_doc(CollectionHandle.reconnect)
    def reconnect(self) -> None:
        self.handle.reconnect()

    @_doc(CollectionHandle.dialect)
    def dialect(self) -> Dialect:
        return self.handle.dialect()

    @_doc(CollectionHandle.server_version)
    def server_version(self) -> str:
        return self.handle.server_version()

    @_doc(CollectionHandle.supports_partial_update)
    def supports_partial_update(self) -> bool:
        return self.handle.supports_partial_update()

    @_doc(CollectionHandle.load)
    def load(self) -> None:
        self.handle.load()

    @_doc(CollectionHandle.release)
    def release(self) -> None:
        self.handle.release()

    # --- collection management ---
    @_doc(CollectionManager.exists)
    def exists(self) -> bool:
        return self.manager.exists()

    @_doc(CollectionManager.names)
    def collections(self) -> list[str]:
        return self.manager.names()

    @_doc(CollectionManager.ensure_collection)
    def ensure_collection(
        self,
        info: EncoderInfo,
        *,
        metadata_keys: Iterable[str] = (),
        metric: str | None = None,
        metadata_types: dict[str, str] | None = None,
        text_fields: tuple[str, ...] = (),
    ) -> CollectionRecord:
        return self.manager.ensure_collection(
            info, metadata_keys=metadata_keys, metric=metric, metadata_types=metadata_types,
            text_fields=text_fields,
        )  # fmt: skip

    @_doc(CollectionManager.open_collection)
    def open_collection(
        self, purpose: str, encoder: EncoderInfo | None = None, *, metric: str | None = None
    ) -> CollectionRecord:
        return self.manager.open_collection(purpose, encoder, metric=metric)

    @_doc(CollectionManager.record)
    def record(self) -> CollectionRecord | None:
        return self.manager.record()

    @_doc(CollectionManager.cached_record)
    def cached_record(self) -> CollectionRecord | None:
        return self.manager.cached_record()

    @_doc(CollectionManager.refresh)
    def refresh(self) -> None:
        self.manager.refresh()

    @_doc(CollectionManager.add_metadata_types)
    def add_metadata_types(self, types: dict[str, str]) -> None:
        self.manager.add_metadata_types(types)

    @_doc(CollectionManager.register_root)
    def register_root(self, folder: str, moved: Callable[[str], bool] | None = None) -> str:
        return self.manager.register_root(folder, moved)

    @_doc(CollectionManager.write_record)
    def write_record(self, record: CollectionRecord) -> None:
        self.manager.write_record(record)

    @_doc(CollectionManager.drop)
    def drop(self) -> None:
        self.manager.drop()

    # --- reads ---
    @_doc(Reads.existing_ids)
    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        return self.reads.existing_ids(ids)

    @_doc(Reads.count)
    def count(self) -> int:
        return self.reads.count()

    @_doc(Reads.describe)
    def describe(self) -> dict[str, Any]:
        return self.reads.describe()

    @_doc(Reads.rows_under)
    def rows_under(self, root: str, fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self.reads.rows_under(root, fields)

    @_doc(Reads.rows_with_hashes)
    def rows_with_hashes(
        self, hashes: Iterable[str], fields: Sequence[str] = ("content_hash",)
    ) -> list[dict]:
        return self.reads.rows_with_hashes(hashes, fields)

    @_doc(Reads.rows_at_paths)
    def rows_at_paths(self, paths: Iterable[str], fields: Sequence[str] = ("root",)) -> list[dict]:
        return self.reads.rows_at_paths(paths, fields)

    @_doc(Reads.search)
    def search(
        self,
        vectors: np.ndarray | Sequence[Sequence[float]],
        k: int = 10,
        filter: str | None = None,
        output_fields: Sequence[str] | None = None,
        ef: int | None = None,
    ) -> list[list[dict[str, Any]]]:
        return self.reads.search(vectors, k, filter, output_fields, ef)

    @_doc(Reads.get)
    def get(self, ids: Iterable[str], output_fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return self.reads.get(ids, output_fields)

    @_doc(Reads.iterate)
    def iterate(
        self, output_fields: Sequence[str] = ("path",), filter: str = "", batch_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        return self.reads.iterate(output_fields, filter, batch_size)

    @_doc(Reads.iter_vectors)
    def iter_vectors(
        self, output_fields: Sequence[str] = ("path",), batch_size: int = 4096
    ) -> Iterator[tuple[list[dict[str, Any]], np.ndarray]]:
        return self.reads.iter_vectors(output_fields, batch_size)

    # --- writes ---
    @_doc(Writes.insert)
    def insert(self, rows: Sequence[Mapping[str, Any]]) -> int:
        return self.writes.insert(rows)

    @_doc(Writes.insert_new)
    def insert_new(self, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        return self.writes.insert_new(rows)

    @_doc(Writes.writing)
    def writing(self) -> AbstractContextManager[None]:
        return self.writes.writing()

    @_doc(Writes.update_fields)
    def update_fields(self, changes: Mapping[str, Mapping[str, Any]]) -> int:
        return self.writes.update_fields(changes)

    @_doc(Writes.delete)
    def delete(self, ids: Iterable[str]) -> int:
        return self.writes.delete(ids)

    @_doc(Writes.flush)
    def flush(self) -> None:
        self.writes.flush()

    @_doc(Writes.flush_and_load)
    def flush_and_load(self, index_timeout: float = 1800.0) -> None:
        self.writes.flush_and_load(index_timeout)

    # --- keywords (BM25) and hybrid search ---
    @_doc(TextSearch.require_text_search)
    def require_text_search(self, option: str) -> None:
        self.text.require_text_search(option)

    @_doc(TextSearch.require_text_field)
    def require_text_field(self, option: str = "--keywords") -> CollectionRecord:
        return self.text.require_text_field(option)

    @_doc(TextSearch.keyword_search)
    def keyword_search(
        self,
        keywords: str,
        k: int = 10,
        filter: str | None = None,
        output_fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        return self.text.keyword_search(keywords, k, filter, output_fields)

    @_doc(TextSearch.hybrid_search)
    def hybrid_search(
        self,
        vector: np.ndarray,
        keywords: str,
        k: int = 10,
        filter: str | None = None,
        fusion: tuple[str, float] = ("rrf", RRF_K),
        output_fields: Sequence[str] | None = None,
        provenance: bool = True,
    ) -> list[dict[str, Any]]:
        return self.text.hybrid_search(vector, keywords, k, filter, fusion, output_fields, provenance)
