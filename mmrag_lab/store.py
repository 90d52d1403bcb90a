"""The vector store: one Milvus collection of image embeddings, on Milvus Lite or a Milvus server.

The URI decides the backend. A local path ending in ``.db`` is a Milvus Lite data folder (embedded, one
process per file). ``http(s)://host:port`` is a Milvus server or Zilliz Cloud; its token comes from
``Config.milvus_token`` (``MMRAG_MILVUS_TOKEN``). The schema, the index and the record of the encoder
that made the vectors are described in :mod:`mmrag_lab.store_schema`.

Writes go through ``upsert``: a Milvus server keeps a second row when ``insert`` meets an existing
primary key, so only upsert makes a repeated write of the same content hash harmless.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

# gRPC reads its log level once, when it loads; without this every fork of an ingest decode worker
# (done on purpose, while gRPC threads run) prints an INFO line.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import numpy as np  # noqa: E402
from pymilvus import MilvusClient  # noqa: E402
from pymilvus.exceptions import MilvusException  # noqa: E402

from mmrag_lab import store_backend as backend  # noqa: E402
from mmrag_lab import store_rows  # noqa: E402
from mmrag_lab.config import Config  # noqa: E402
from mmrag_lab.errors import CollectionMismatchError, StoreError  # noqa: E402
from mmrag_lab.store_schema import (  # noqa: E402
    CORE_FIELDS,
    RECORD_PROPERTY,
    SEARCH_EF,
    CollectionRecord,
    build_index,
    build_schema,
    search_params,
)

if TYPE_CHECKING:  # the encoders package imports torch; the store must not need it
    from mmrag_lab.encoders.base import EncoderInfo

log = logging.getLogger(__name__)
# Milvus caps one RPC at 64 MB; stay well below it so that large paths or metadata never reach the cap.
MAX_WRITE_BYTES = 16 * 1024 * 1024
ID_CHUNK = 2000
# Reads that decide what to write (existing ids, counts, prune) must see every acknowledged write. On a
# Milvus 2.3 server that costs a time tick (~400 ms) per call, so searches read at "Session" consistency
# instead: this process's own writes are visible, and writes of other processes are once flushed.
STRONG = "Strong"
SESSION = "Session"


class Store:
    """One collection in Milvus Lite or on a Milvus server. Open it with :meth:`Store.open`.

    Use it as a context manager, or call :meth:`close`: closing a Milvus Lite store releases the file
    lock so that another process can open the file.
    """

    def __init__(self, client: MilvusClient, uri: str, collection: str, config: Config):
        self.client = client
        self.uri = uri
        self.collection = collection
        self.config = config
        self.is_lite = backend.is_lite_uri(uri)
        self._record: CollectionRecord | None = None
        self._loaded = False

    @classmethod
    def open(
        cls, config: Config | str | None = None, *, collection: str | None = None, token: str | None = None
    ) -> Store:
        """Connect to the backend named by a config or a URI.

        Args:
            config: A :class:`Config`, a URI string, or None for ``Config.load()``.
            collection: Collection name; default ``config.collection``.
            token: Server token; default ``config.milvus_token``.

        Raises:
            StoreLockedError: Another process holds the Milvus Lite file.
            StoreError: The backend cannot be reached.
        """
        if isinstance(config, str):
            config = Config.load(milvus_uri=config)
        config = config or Config.load()
        client = backend.connect(config.milvus_uri, token or config.milvus_token)
        return cls(client, config.milvus_uri, collection or config.collection, config)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "Milvus Lite" if self.is_lite else "Milvus server"
        return f"Store({self.collection!r} on {kind} {backend.display_uri(self.uri)})"

    def exists(self) -> bool:
        """True when the collection exists."""
        return bool(self._call(self.client.has_collection, self.collection))

    def ensure_collection(
        self, info: EncoderInfo, *, metadata_keys: Iterable[str] = (), metric: str | None = None
    ) -> CollectionRecord:
        """Create the collection for ``info``'s vectors, or check that an existing one matches.

        Args:
            info: The encoder that will make the vectors.
            metadata_keys: Sidecar keys to add to the record.
            metric: Vector metric; default ``config.metric`` (COSINE).

        Raises:
            CollectionMismatchError: The collection was made by another encoder, dimension, metric or
                weights, or not by mmrag_lab; the message names both sides.
        """
        wanted = CollectionRecord.for_encoder(info, metric or self.config.metric, self.config.index_type)
        if not self.exists():
            self._create(wanted)
        record = self._require_record()
        if record.differences(wanted):
            raise CollectionMismatchError(record.mismatch_message(wanted, self._where()))
        self.add_metadata_keys(metadata_keys)
        self._load()
        return self.record() or record

    def record(self) -> CollectionRecord | None:
        """The collection's record (which encoder made it), or None if it has none."""
        if self._record is None:
            description = self._call(self.client.describe_collection, self.collection)
            self._record = CollectionRecord.from_properties(description.get("properties") or {})
        return self._record

    def add_metadata_keys(self, keys: Iterable[str]) -> None:
        """Add sidecar keys to the record's list of metadata fields."""
        record = self.record()
        keys = set(keys)
        if record is None or keys <= set(record.metadata_keys):
            return
        updated = record.with_metadata_keys(keys)
        self._call(self.client.alter_collection_properties, self.collection, updated.to_properties())
        self._record = updated

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """The subset of ``ids`` already stored."""
        self._load()
        found: set[str] = set()
        for chunk in store_rows.chunks(list(ids), ID_CHUNK):
            rows = self._call(
                self.client.query,
                self.collection,
                filter=store_rows.in_filter(chunk),
                output_fields=["id"],
                consistency_level=STRONG,
            )
            found.update(row["id"] for row in rows)
        return found

    def insert(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write complete rows (``id``, ``vector`` and the :data:`CORE_FIELDS`), batched under the RPC cap.

        Each RPC is all-or-nothing, so a row is never half-written. Rows whose ``id`` exists are replaced.

        Returns:
            The number of rows written.
        """
        written = 0
        for batch in store_rows.byte_batches(rows, MAX_WRITE_BYTES):
            self._call(self.client.upsert, self.collection, [store_rows.complete_row(row) for row in batch])
            written += len(batch)
        return written

    def delete(self, ids: Iterable[str]) -> int:
        """Delete rows by id; returns how many ids were asked for deletion."""
        count = 0
        for chunk in store_rows.chunks(list(ids), ID_CHUNK):
            self._call(self.client.delete, self.collection, filter=store_rows.in_filter(chunk))
            count += len(chunk)
        return count

    def flush(self) -> None:
        """Seal written rows into segments (durable on disk); their index may still be building."""
        self._call(self.client.flush, self.collection)

    def flush_and_load(self, index_timeout: float = 1800.0) -> None:
        """Seal new rows, build their index, and load the collection. Every ingest ends here.

        Searches before this are slow: Milvus Lite brute-forces unflushed rows in Python (1.85 s instead
        of 50 ms at 100k rows), and a flush of a loaded Lite collection builds the new segments' HNSW on a
        background thread while searches brute-force them. Flushing a released Lite collection and then
        loading it builds each index once, now. A server reports its progress, so we wait for it (up to
        ``index_timeout`` seconds, then go on with a warning).
        """
        if self.is_lite:
            self.release()
        self.flush()
        if not self.is_lite:
            self._wait_for_index(index_timeout)
        self._load()

    def release(self) -> None:
        """Release the collection from memory. Writes still work; reads load it again first.

        Ingest releases a Milvus Lite collection while writing, so that its automatic flushes do not build
        indexes in the background that :meth:`flush_and_load` would build again.
        """
        self._call(self.client.release_collection, self.collection)
        self._loaded = False

    def count(self) -> int:
        """Number of rows (deleted rows excluded)."""
        self._load()
        rows = self._call(
            self.client.query,
            self.collection,
            filter="",
            output_fields=["count(*)"],
            consistency_level=STRONG,
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def describe(self) -> dict[str, Any]:
        """Row count, backend, encoder, dimension, metric, index and metadata fields, as a plain dict."""
        record = self.record()
        out: dict[str, Any] = {
            "collection": self.collection,
            "uri": backend.display_uri(self.uri),
            "backend": "milvus-lite" if self.is_lite else "milvus-server",
            "count": self.count(),
        }
        if record is not None:
            out.update(
                encoder=record.encoder,
                weights=record.weights,
                fingerprint=record.fingerprint,
                untrained=record.untrained,
                dim=record.dim,
                metric=record.metric,
                index_type=record.index_type,
                metadata_keys=list(record.metadata_keys),
            )
        return out

    def search(
        self,
        vectors: np.ndarray | Sequence[Sequence[float]],
        k: int = 10,
        filter: str | None = None,
        output_fields: Sequence[str] | None = None,
        ef: int = SEARCH_EF,
    ) -> list[list[dict[str, Any]]]:
        """Nearest rows for each query vector.

        Args:
            vectors: Query vectors, shape ``(n, dim)``.
            k: Hits per query.
            filter: Milvus boolean expression, e.g. ``meta["category"] == "shoes"``.
            output_fields: Fields to return; default all of :data:`CORE_FIELDS`.
            ef: HNSW search breadth (raised to ``k`` if lower); more is slower and finds more true
                neighbours.

        Returns:
            One list per query, best first. Each hit is a plain dict with ``id``, ``score`` and the output
            fields. ``score`` is the COSINE (or IP) similarity, higher is better; under L2 it is the negated
            distance so that higher is still better.
        """
        self._load()
        record = self._require_record()
        data = np.asarray(vectors, dtype=np.float32).reshape(-1, record.dim)
        answer = self._call(
            self.client.search,
            self.collection,
            data=[row for row in data],
            limit=k,
            filter=filter or "",
            output_fields=list(output_fields or CORE_FIELDS),
            search_params=search_params(record.index_type, record.metric, k, ef),
            consistency_level=SESSION,
        )
        sign = -1.0 if record.metric == "L2" else 1.0
        return [[store_rows.to_hit(hit, sign) for hit in hits] for hits in answer]

    def get(self, ids: Iterable[str], output_fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Rows by id (any order), with ``id`` and the asked-for fields (default all but the vector)."""
        self._load()
        fields = ["id", *(output_fields or CORE_FIELDS)]
        rows: list[dict[str, Any]] = []
        for chunk in store_rows.chunks(list(ids), ID_CHUNK):
            rows += self._call(
                self.client.query,
                self.collection,
                filter=store_rows.in_filter(chunk),
                output_fields=fields,
                consistency_level=STRONG,
            )
        return [dict(row) for row in rows]

    def iterate(
        self, output_fields: Sequence[str] = ("path",), filter: str = "", batch_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Yield every row matching ``filter`` (all rows by default) with ``id`` and ``output_fields``."""
        self._load()
        iterator = backend.query_iterator(
            self.client, self.collection, ["id", *output_fields], filter, batch_size
        )
        try:
            while batch := self._call(iterator.next):
                yield from (dict(row) for row in batch)
        finally:
            iterator.close()

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        self._call(self.client.drop_collection, self.collection)
        self._record = None
        self._loaded = False

    def close(self) -> None:
        """Close the connection; for Milvus Lite also release the file lock."""
        backend.disconnect(self.client, self.uri)

    def _create(self, record: CollectionRecord) -> None:
        try:
            self.client.create_collection(
                self.collection,
                schema=build_schema(record.dim),
                index_params=build_index(self.client, record.index_type, record.metric),
                consistency_level=STRONG,
                properties=record.to_properties(),
            )
        except MilvusException as exc:
            if not self.exists():  # another process may have created it first; then compare records
                raise StoreError(f"Cannot create collection {self.collection!r}: {exc}") from exc
        self._record = None

    def _wait_for_index(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self._call(self.client.describe_index, self.collection, "vector")
            if not state.get("pending_index_rows") and state.get("indexed_rows", 0) >= state.get(
                "total_rows", 0
            ):
                return
            time.sleep(0.5)
        log.warning(
            "%s: the index is still building after %.0f s; searches stay slow until it is done.",
            self._where(),
            timeout,
        )

    def _load(self) -> None:
        # A reopened Milvus Lite collection starts released; queries and searches need it loaded.
        if not self._loaded:
            self._call(self.client.load_collection, self.collection)
            self._loaded = True

    def _require_record(self) -> CollectionRecord:
        record = self.record()
        if record is None:
            raise CollectionMismatchError(
                f"{self._where()} exists but was not created by mmrag_lab (it has no '{RECORD_PROPERTY}' "
                "property). Use another collection name (--collection / MMRAG_COLLECTION) or drop it."
            )
        return record

    def _where(self) -> str:
        return f"Collection {self.collection!r} at {backend.display_uri(self.uri)}"

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except MilvusException as exc:
            name = getattr(method, "__name__", "a call")
            raise StoreError(
                f"Milvus refused {name} on {self._where()}: {getattr(exc, 'message', exc)}"
            ) from exc
