"""Looking inside a collection: what it holds, its vectors in 2-D, near-duplicates, how a query scores.

Vectors are read back from the store (never recomputed), so the map shows exactly what search sees. The
2-D projection is PCA through numpy's SVD: no extra dependency, and the same picture on every run.
(The module is not called ``inspect``: that name belongs to the standard library.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mmrag_lab.config import Config
from mmrag_lab.store.target import target_config
from mmrag_lab.store.vector_store import Store
from mmrag_lab.terminal import printable

# migrate, not ingest: ingest refuses text fields other than those in the record (none here)
TEXT_FIELDS_HINT = "mmrag migrate --text-fields title,caption, on Milvus Lite or a server >= 2.5"


@dataclass(frozen=True)
class CollectionSummary:
    """A collection at a glance; renders as a small table in notebooks."""

    collection: str
    uri: str
    backend: str
    count: int
    encoder: str = "?"
    dim: int = 0
    metric: str = "?"
    index_type: str = "?"
    weights: str = "?"
    untrained: bool = False
    metadata_keys: tuple[str, ...] = ()
    metadata_types: dict[str, str] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    text_fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "metadata_keys": list(self.metadata_keys),
            "text_fields": list(self.text_fields),
        }

    def to_text(self) -> str:
        """Aligned lines for a terminal (``mmrag info``)."""
        lines = [f"{name:>14}: {_cell(value)}" for name, value in self._settings().items()]
        return "\n".join(lines) + (
            "\nUNTRAINED WEIGHTS: the vectors carry no meaning." if self.untrained else ""
        )

    def _settings(self) -> dict[str, Any]:
        grouped = ("metadata_keys", "metadata_types", "roots", "text_fields")
        values = {k: v for k, v in self.to_dict().items() if k not in grouped}
        types = self.metadata_types or dict.fromkeys(self.metadata_keys, "?")
        values["metadata"] = [f"{key} ({kind})" for key, kind in sorted(types.items())]
        values["folders"] = [f"{name} = {path}" for name, path in sorted(self.roots.items())]
        values["keyword search"] = self.keyword_search()
        return values

    def keyword_search(self) -> str:
        """Whether ``--keywords`` can search this collection, and which sidecar columns feed its BM25 text."""
        if self.text_fields:
            return ", ".join(map(printable, self.text_fields)) + " (BM25)"
        return f"none (add it: {TEXT_FIELDS_HINT})"

    def _repr_markdown_(self) -> str:
        rows = [f"| {name} | {_cell(value)} |" for name, value in self._settings().items()]
        warning = "\n\n**UNTRAINED WEIGHTS: the vectors carry no meaning.**" if self.untrained else ""
        return "| setting | value |\n|---|---|\n" + "\n".join(rows) + warning


def _cell(value: Any) -> str:
    """A value as one line with control characters shown escaped (folder paths, metadata keys)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(printable, value)) or "(none)"
    return printable(value)


def require_collection(store: Store) -> None:
    """Make sure the collection exists, was made by mmrag_lab, and is loaded (a reopened one may be released).

    Raises:
        CollectionNotFoundError: The collection does not exist (the message says how to make it).
        ForeignCollectionError: mmrag_lab did not make it.
    """
    store.open_collection("inspect")


def collection_summary(
    store: Store | None = None, *, config: Config | None = None, collection: str | None = None
) -> CollectionSummary:
    """Row count, backend, encoder, dimension, metric, weights, ingested folders, typed metadata fields and
    keyword search's text fields of ``store``'s collection, or of ``collection`` (default
    ``config.collection``) in a store opened (read only) from ``config`` and closed again."""
    if store is None:
        with Store.open(target_config(config, collection), read_only=True) as opened:
            return collection_summary(opened)
    target_config(store.config, collection, store)  # a collection= other than the store's is refused
    require_collection(store)
    described = store.describe()
    known = {name for name in CollectionSummary.__dataclass_fields__}
    values = {key: value for key, value in described.items() if key in known}
    values["metadata_keys"] = tuple(described.get("metadata_keys") or ())
    values["metadata_types"] = dict(described.get("metadata_types") or {})
    values["roots"] = dict(described.get("roots") or {})
    values["text_fields"] = tuple(described.get("text_fields") or ())
    return CollectionSummary(**values)


@dataclass
class Embeddings:
    """Vectors read back from a collection, with the id and path of each row."""

    ids: list[str]
    paths: list[str]
    vectors: np.ndarray
    untrained: bool = False
    truncated: bool = field(default=False)
    titles: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def load_embeddings(store: Store, limit: int = 5000, filter: str = "") -> Embeddings:
    """Read up to ``limit`` rows (id, path, vector) from the store, in the order the store yields them.

    Raises:
        CollectionNotFoundError: The collection does not exist.
    """
    require_collection(store)
    ids, paths, vectors, titles = [], [], [], []
    truncated = False
    for row in store.iterate(output_fields=("path", "vector", "meta"), filter=filter):
        if len(ids) >= limit:
            truncated = True
            break
        ids.append(row["id"])
        paths.append(row["path"])
        titles.append(str((row.get("meta") or {}).get("title") or ""))
        vectors.append(np.asarray(row["vector"], dtype=np.float32))
    record = store.record()
    dim = record.dim if record else 0
    matrix = np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
    return Embeddings(ids, paths, matrix, bool(record and record.untrained), truncated, titles)


def project_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA to two dimensions with numpy's SVD.

    Returns:
        ``(coords, explained)``: the ``(n, 2)`` positions and the share of variance each axis explains.
        Signs are fixed (largest loading positive) so that the picture is the same on every run.
    """
    data = np.asarray(vectors, dtype=np.float64)
    if len(data) < 2:
        return np.zeros((len(data), 2)), np.zeros(2)
    centred = data - data.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    coords = centred @ (components * signs[:, None]).T
    variance = singular**2
    explained = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)
    if coords.shape[1] < 2:  # a single non-zero component (e.g. two rows)
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
        explained = np.pad(explained, (0, 2 - len(explained)))
    return coords, explained


@dataclass(frozen=True)
class DuplicatePair:
    """Two rows whose vectors are very close (cosine similarity ``score``)."""

    id_a: str
    id_b: str
    path_a: str
    path_b: str
    score: float
    title_a: str = ""
    title_b: str = ""


def near_duplicates(embeddings: Embeddings, top: int = 10, min_score: float = -1.0) -> list[DuplicatePair]:
    """The ``top`` most similar pairs of distinct rows with a similarity of at least ``min_score``.

    Rows hold distinct bytes (the store keys rows by content hash), so a pair scoring near 1.0 is a
    re-encoded or resized copy, not the same file. Works in blocks, so memory stays ``O(n * block)``.
    """
    vectors = embeddings.vectors
    best: list[tuple[float, int, int]] = []
    block = 512
    for start in range(0, len(vectors), block):
        sims = vectors[start : start + block] @ vectors.T
        # keep each pair once: only columns right of the diagonal
        sims[np.arange(len(vectors))[None, :] <= np.arange(start, start + len(sims))[:, None]] = -np.inf
        flat = sims.ravel()
        keep = np.argsort(-flat)[:top] if flat.size <= top else np.argpartition(-flat, top)[:top]
        for index in keep:
            row, col = divmod(int(index), len(vectors))
            if flat[index] >= min_score:
                best.append((float(flat[index]), start + row, col))
    best.sort(key=lambda item: -item[0])
    ids, paths = embeddings.ids, embeddings.paths
    titles = embeddings.titles or [""] * len(ids)
    return [DuplicatePair(ids[a], ids[b], paths[a], paths[b], score, titles[a], titles[b])
            for score, a, b in best[:top]]  # fmt: skip


def query_scores(embeddings: Embeddings, query_vector: np.ndarray) -> np.ndarray:
    """Similarity of one query vector to every loaded vector (dot product of L2-normalised rows = cosine)."""
    query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    return embeddings.vectors @ query


def sample_paths(store: Store, n: int = 24) -> list[str]:
    """``n`` stored paths spread evenly over the collection (sorted by path), for a thumbnail sample."""
    require_collection(store)
    paths = sorted(row["path"] for row in store.iterate(("path",)))
    if len(paths) <= n:
        return paths
    return [paths[int(i)] for i in np.linspace(0, len(paths) - 1, n).round()]


def query_vector(store: Store, image: Any, instruction: str | None = None, encoder: Any = None) -> np.ndarray:
    """Embed a query with the encoder that made the collection (the one search uses, cached per process)."""
    from mmrag_lab.retrieval.query import encoder_for

    encoder = encoder or encoder_for(store.open_collection("inspect"), store.config)
    store.open_collection("inspect", encoder.info)
    if instruction and instruction.strip():
        return encoder.encode_queries([image], [instruction])[0]
    return encoder.encode_images([image])[0]
