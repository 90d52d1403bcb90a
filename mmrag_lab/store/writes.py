"""Writing rows: upserts batched under the RPC cap, deletes, flushes and the index build at the end."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from mmrag_lab.store import rows as store_rows
from mmrag_lab.store.rows import ID_CHUNK, MAX_WRITE_BYTES, STRONG
from mmrag_lab.store.schema import CORE_FIELDS

EVENTUALLY = "Eventually"


class StoreWrites:
    """The write half of :class:`~mmrag_lab.store.collection.Store` (it supplies ``client`` and ``_call``)."""

    def insert(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write complete rows (``id``, ``vector`` and the :data:`CORE_FIELDS`), batched under the RPC cap.

        Each RPC is all-or-nothing, so a row is never half-written. Rows whose ``id`` exists are replaced.

        Returns:
            The number of rows written.
        """
        written = 0
        for batch in store_rows.byte_batches(rows, MAX_WRITE_BYTES):
            self._call("upsert", self.collection, [store_rows.complete_row(row) for row in batch])
            written += len(batch)
        return written

    def insert_new(self, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """Write complete rows like :meth:`insert`; return the ids that already held these bytes.

        Those rows were written by another process since this one planned: the write changed nothing
        there, and a report must not count them as this run's. The look-up and the write of each batch
        hold a lock that every writer of this collection on this machine takes (for Milvus Lite, every
        writer of the file), so two concurrent ingests never both count one row. A served file (Milvus
        Lite) answers the look-up at once; a server's look-up reads at Eventually consistency (a Strong or
        Session read there waits about 200 ms per batch), so a row that another writer stored in the last
        fraction of a second may, rarely, be counted by both.
        """
        already: set[str] = set()
        for batch in store_rows.byte_batches(rows, MAX_WRITE_BYTES):
            with self._writers_lock():
                stored = self._stored_hashes([str(row["id"]) for row in batch])
                self._call("upsert", self.collection, [store_rows.complete_row(row) for row in batch])
            already.update(str(r["id"]) for r in batch if stored.get(str(r["id"])) == r["content_hash"])
        return already

    def _stored_hashes(self, ids: list[str]) -> dict[str, str]:
        self.load()
        level = STRONG if self.backend.served_file() else EVENTUALLY
        rows = self._call("query", self.collection, filter=store_rows.in_filter(ids),
                          output_fields=["id", "content_hash"], consistency_level=level)  # fmt: skip
        return {str(row["id"]): row["content_hash"] for row in rows}

    @contextmanager
    def _writers_lock(self) -> Iterator[None]:
        served = self.backend.served_file()
        name = hashlib.sha256(f"{self.uri}\0{self.collection}".encode()).hexdigest()[:16]
        path = (
            f"{served}.writers.lock" if served else os.path.join(tempfile.gettempdir(), f"mmrag-{name}.lock")
        )
        try:
            handle = open(path, "a")  # noqa: SIM115 - held for the with block below
        except OSError:  # a folder we cannot write to: the write itself will say so
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def update_fields(self, changes: Mapping[str, Mapping[str, Any]]) -> int:
        """Change some fields of existing rows, keeping their vectors: ``{id: {field: value}}``.

        Milvus Lite 3.x and servers >= 2.6 take a partial upsert (only the changed fields travel). Older
        servers (2.3.5 answers "float vector field 'vector' is illegal") get the whole row: it is read
        back with its vector, changed, and upserted.

        Returns:
            The number of rows updated (ids that are not stored are skipped).
        """
        if not changes:
            return 0
        if self.supports_partial_update():
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for key, fields in changes.items():  # one request carries one set of fields
                groups.setdefault(tuple(sorted(fields)), []).append({"id": key, **fields})
            for rows in groups.values():
                for batch in store_rows.byte_batches(rows, MAX_WRITE_BYTES):
                    self._call("upsert", self.collection, list(batch), partial_update=True)
            return len(changes)
        stored = self.get(list(changes), output_fields=["vector", *CORE_FIELDS])
        return self.insert([{**row, **changes[row["id"]]} for row in stored])

    def delete(self, ids: Iterable[str]) -> int:
        """Delete rows by id; returns how many ids were asked for deletion."""
        count = 0
        for chunk in store_rows.chunks(list(ids), ID_CHUNK):
            self._call("delete", self.collection, filter=store_rows.in_filter(chunk))
            count += len(chunk)
        return count

    def flush(self) -> None:
        """Seal written rows into segments (durable on disk); their index may still be building."""
        self._call("flush", self.collection)

    def flush_and_load(self, index_timeout: float = 1800.0) -> None:
        """Seal new rows, build their index, and load the collection. Every ingest ends here.

        Searches before this are slow: Milvus Lite brute-forces unflushed rows in Python (1.85 s instead
        of 50 ms at 100k rows), and a flush of a loaded Lite collection builds the new segments' HNSW on a
        background thread while searches brute-force them. Flushing a released Lite collection and then
        loading it builds each index once, now. A server reports its progress, so we wait for it (up to
        ``index_timeout`` seconds, then go on with a warning).
        """
        self.backend.seal(self, index_timeout)
        self.load()

    def release(self) -> None:
        """Release the collection from memory. Writes still work; reads load it again first.

        Ingest releases a Milvus Lite collection while writing, so that its automatic flushes do not build
        indexes in the background that :meth:`flush_and_load` would build again.
        """
        self._call("release_collection", self.collection)
        self._loaded = False
