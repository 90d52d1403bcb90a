"""Reading rows: searches, lookups by id, counts, iteration and the collection's description."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmrag_lab.store import clients
from mmrag_lab.store import rows as store_rows
from mmrag_lab.store.filters import string_literal
from mmrag_lab.store.rows import ID_CHUNK, SESSION, STRONG
from mmrag_lab.store.schema import CORE_FIELDS, search_params

if TYPE_CHECKING:
    from mmrag_lab.store.handle import CollectionHandle
    from mmrag_lab.store.manager import CollectionManager


class Reads:
    """Reading one collection's rows, through a :class:`~mmrag_lab.store.handle.CollectionHandle`; the
    :class:`~mmrag_lab.store.manager.CollectionManager` gives the record that searches and descriptions
    need. Every read loads the collection first (once per process)."""

    def __init__(self, handle: CollectionHandle, manager: CollectionManager):
        self.handle = handle
        self.manager = manager

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """The subset of ``ids`` already stored."""
        self.handle.load()
        found: set[str] = set()
        for chunk in store_rows.chunks(list(ids), ID_CHUNK):
            rows = self.handle.call(
                "query",
                self.handle.collection,
                filter=store_rows.in_filter(chunk),
                output_fields=["id"],
                consistency_level=STRONG,
            )
            found.update(row["id"] for row in rows)
        return found

    def count(self) -> int:
        """Number of rows (deleted rows excluded)."""
        self.handle.load()
        rows = self.handle.call(
            "query",
            self.handle.collection,
            filter="",
            output_fields=["count(*)"],
            consistency_level=STRONG,
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def describe(self) -> dict[str, Any]:
        """Row count, backend, encoder, dimension, metric, index and metadata fields, as a plain dict."""
        record = self.manager.record()
        out: dict[str, Any] = {
            "collection": self.handle.collection,
            "uri": self.handle.backend.display_uri(),
            "backend": self.handle.backend.name,
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
                metadata_types=dict(sorted(record.metadata_types.items())),
                roots=dict(record.roots),
                text_fields=list(record.text_fields),
            )
        return out

    def rows_under(self, root: str, fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Every row of the ingested folder named ``root``, by id, with ``fields``."""
        rows = self.iterate(tuple(fields), filter=f"root == {string_literal(root)}")
        return {str(row["id"]): row for row in rows}

    def rows_with_hashes(
        self, hashes: Iterable[str], fields: Sequence[str] = ("content_hash",)
    ) -> list[dict]:
        """Rows (any folder) whose ``content_hash`` is one of ``hashes``."""
        self.handle.load()
        found: list[dict[str, Any]] = []
        for chunk in store_rows.chunks(sorted(set(hashes)), ID_CHUNK):
            found += self.handle.call(
                "query",
                self.handle.collection,
                filter=store_rows.in_filter(chunk, "content_hash"),
                output_fields=["id", *fields],
                consistency_level=STRONG,
            )
        return [dict(row) for row in found]

    def rows_at_paths(self, paths: Iterable[str], fields: Sequence[str] = ("root",)) -> list[dict]:
        """Rows (any folder) whose ``path`` is one of ``paths``."""
        self.handle.load()
        found: list[dict[str, Any]] = []
        for chunk in store_rows.chunks(sorted(set(paths)), ID_CHUNK):
            found += self.handle.call(
                "query",
                self.handle.collection,
                filter=f"path in [{', '.join(map(string_literal, chunk))}]",
                output_fields=["id", *fields],
                consistency_level=STRONG,
            )
        return [dict(row) for row in found]

    def search(
        self,
        vectors: np.ndarray | Sequence[Sequence[float]],
        k: int = 10,
        filter: str | None = None,
        output_fields: Sequence[str] | None = None,
        ef: int | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Nearest rows for each query vector.

        Args:
            vectors: Query vectors, shape ``(n, dim)``.
            k: Hits per query.
            filter: Milvus boolean expression, e.g. ``meta["category"] == "shoes"``.
            output_fields: Fields to return; default all of :data:`CORE_FIELDS`.
            ef: HNSW search breadth (raised to ``k`` if lower); more is slower and finds more true
                neighbours. Default: 256 on Milvus Lite (where it costs no measurable time), 128 on a server.

        Returns:
            One list per query, best first. Each hit is a plain dict with ``id``, ``score`` and the output
            fields. ``score`` is the COSINE (or IP) similarity, higher is better; under L2 it is the negated
            distance so that higher is still better.
        """
        self.handle.load()
        record = self.manager.require_record()
        data = np.asarray(vectors, dtype=np.float32).reshape(-1, record.dim)
        answer = self.handle.call(
            "search",
            self.handle.collection,
            data=[row for row in data],
            limit=k,
            filter=filter or "",
            output_fields=list(output_fields or CORE_FIELDS),
            search_params=search_params(
                record.index_type, record.metric, k, ef or self.handle.backend.search_ef
            ),
            consistency_level=SESSION,
        )
        sign = -1.0 if record.metric == "L2" else 1.0
        return [[store_rows.to_hit(hit, sign) for hit in hits] for hits in answer]

    def get(self, ids: Iterable[str], output_fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Rows by id (any order), with ``id`` and the asked-for fields (default all but the vector)."""
        self.handle.load()
        fields = ["id", *(output_fields or CORE_FIELDS)]
        rows: list[dict[str, Any]] = []
        for chunk in store_rows.chunks(list(ids), ID_CHUNK):
            rows += self.handle.call(
                "query",
                self.handle.collection,
                filter=store_rows.in_filter(chunk),
                output_fields=fields,
                consistency_level=STRONG,
            )
        return [dict(row) for row in rows]

    def iterate(
        self, output_fields: Sequence[str] = ("path",), filter: str = "", batch_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Yield every row matching ``filter`` (all rows by default) with ``id`` and ``output_fields``."""
        self.handle.load()
        handle = self.handle
        fields, timeout = ["id", *output_fields], handle.config.milvus_timeout

        def start() -> Any:
            return clients.query_iterator(
                handle.client, handle.collection, fields, filter, batch_size, timeout
            )

        iterator = handle.once(start, "query_iterator")
        try:
            while batch := handle.once(iterator.next, "query_iterator"):
                yield from (dict(row) for row in batch)
        finally:
            iterator.close()

    def iter_vectors(
        self, output_fields: Sequence[str] = ("path",), batch_size: int = 4096
    ) -> Iterator[tuple[list[dict[str, Any]], np.ndarray]]:
        """Every stored vector once, in batches: ``(rows, matrix)`` with row ``i`` describing ``matrix[i]``.

        For exact (brute-force) evaluation, which scores queries against the whole collection. Rows hold
        ``id`` and ``output_fields``; the matrix is float32 of shape ``(len(rows), dim)``.
        """
        rows: list[dict[str, Any]] = []
        for row in self.iterate((*output_fields, "vector"), batch_size=batch_size):
            rows.append(row)
            if len(rows) == batch_size:
                yield _split_vectors(rows)
                rows = []
        if rows:
            yield _split_vectors(rows)


def _split_vectors(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], np.ndarray]:
    matrix = np.asarray([row.pop("vector") for row in rows], dtype=np.float32)
    return rows, matrix
