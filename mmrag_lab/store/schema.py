"""What a collection holds: the explicit schema, the row key and the index (the record is in :mod:`.record`).

A row is one image file. Schema (no dynamic fields; every core field is declared):

================  ====================  ===================================================================
field             type                  meaning
================  ====================  ===================================================================
``id``            VARCHAR(64), primary  :func:`row_id` of (root name, path relative to that root)
``vector``        FLOAT_VECTOR(dim)     L2-normalised image embedding
``path``          VARCHAR(4096)         displayable absolute path of the file when it was last ingested
``root``          VARCHAR(256)          name of the ingested folder (the record maps names to folders)
``rel_path``      VARCHAR(4096)         path relative to that folder, ``/``-separated
``content_hash``  VARCHAR(64)           sha256 hex digest of the file's bytes (decides re-encoding)
``width``         INT64                 upright width in pixels (EXIF orientation applied)
``height``        INT64                 upright height in pixels
``file_size``     INT64                 bytes on disk
``meta``          JSON                  sidecar metadata for the file, typed (``{}`` when it has none)
================  ====================  ===================================================================

A collection made with text fields also has ``text`` and ``text_sparse`` (see :mod:`.text_fields`).

Collections of record format 1 were keyed by content hash and had only ``path``, ``width``, ``height``,
``file_size`` and ``meta``; :mod:`mmrag_lab.store.migrate` upgrades them in place.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from mmrag_lab.store.record import RECORD_FORMAT, RECORD_PROPERTY, CollectionRecord  # noqa: F401
from mmrag_lab.store.text_fields import add_text_fields

if TYPE_CHECKING:
    from pymilvus import MilvusClient

ID_LENGTH = 64
PATH_LENGTH = 4096
ROOT_LENGTH = 256
CORE_FIELDS = ("path", "root", "rel_path", "content_hash", "width", "height", "file_size", "meta")
# The fields a format-1 (content-hash keyed) collection has besides ``id`` and ``vector``.
FORMAT1_FIELDS = ("path", "width", "height", "file_size", "meta")


def row_id(root: str, rel_path: str) -> str:
    """The primary key of the file at ``rel_path`` under the ingested folder named ``root``.

    A hash of the pair (not of the bytes), so it stays the same when the file's bytes change or the folder
    moves, and it fits a fixed-length key whatever the path's length.
    """
    return hashlib.sha256(f"{root}\0{rel_path}".encode("utf-8", "surrogateescape")).hexdigest()


# HNSW build parameters when HNSW is asked for by name; AUTOINDEX lets the backend choose (HNSW on
# both Lite 3.2.2 and server 2.3.5), FLAT is exact.
HNSW_PARAMS = {"M": 16, "efConstruction": 200}
# Search-time ef, always sent: a server's AUTOINDEX searched without it lost recall. Lite spends its time in a
# per-row Python loop whatever ef is, so a wide ef costs it nothing; on a server 128 kept recall near 1 at a
# few ms. The figures are in BENCHMARKS.md ("Figures once quoted in code comments").
LITE_SEARCH_EF = 256
SERVER_SEARCH_EF = 128
SEARCH_EF = LITE_SEARCH_EF


def build_schema(dim: int, fields: tuple[str, ...] = CORE_FIELDS, text: bool = False):
    """The explicit collection schema for ``dim``-dimensional vectors (``fields``: which core fields;
    ``text``: with the analysed text field and its BM25 sparse field, see :mod:`.text_fields`)."""
    from pymilvus import DataType, MilvusClient  # loaded with the client (see backends.connect.quiet_grpc)

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, max_length=ID_LENGTH, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    for name in fields:
        kind, options = _FIELD_TYPES[name]
        schema.add_field(name, DataType[kind], **options)
    if text:
        add_text_fields(schema)
    return schema


_FIELD_TYPES: dict[str, tuple[str, dict[str, Any]]] = {  # pymilvus DataType names
    "path": ("VARCHAR", {"max_length": PATH_LENGTH}),
    "root": ("VARCHAR", {"max_length": ROOT_LENGTH}),
    "rel_path": ("VARCHAR", {"max_length": PATH_LENGTH}),
    "content_hash": ("VARCHAR", {"max_length": ID_LENGTH}),
    "width": ("INT64", {}),
    "height": ("INT64", {}),
    "file_size": ("INT64", {}),
    "meta": ("JSON", {}),
}


def build_index(client: MilvusClient, index_type: str, metric: str):
    """Index parameters for the vector field."""
    params = HNSW_PARAMS if index_type.upper() == "HNSW" else {}
    index = client.prepare_index_params()
    # Nested under "params": pymilvus 3.0.2 flattens a plain dict, and Milvus Lite then drops M and
    # efConstruction silently; the nested form reaches both Lite and a server.
    index.add_index(
        "vector", index_type=index_type.upper(), metric_type=metric.upper(), params={"params": params}
    )
    return index


def search_params(index_type: str, metric: str, k: int, ef: int = SEARCH_EF) -> dict[str, Any]:
    """Search parameters: HNSW's ``ef`` (breadth of the graph search, at least ``k``).

    Milvus Lite 3.2.2 honours ``ef`` for AUTOINDEX (its HNSW) and HNSW; the Milvus 2.3.5 server, driven by
    pymilvus 3.0.2, accepted it without a measurable effect on recall in our tests.
    """
    params: dict[str, Any] = {}
    if index_type.upper() in ("HNSW", "AUTOINDEX"):
        params["ef"] = max(ef, k)
    return {"metric_type": metric.upper(), "params": params}
