"""What a collection holds and who made it: the explicit schema, the index and the collection record.

Schema (no dynamic fields; every core field is declared):

============  ====================  =====================================================================
field         type                  meaning
============  ====================  =====================================================================
``id``        VARCHAR(64), primary  sha256 hex digest of the file's bytes, so equal bytes are one row
``vector``    FLOAT_VECTOR(dim)     L2-normalised image embedding
``path``      VARCHAR(4096)         displayable path of the first file seen with these bytes
``width``     INT64                 upright width in pixels (EXIF orientation applied)
``height``    INT64                 upright height in pixels
``file_size`` INT64                 bytes on disk
``meta``      JSON                  sidecar metadata for the file (``{}`` when it has none)
============  ====================  =====================================================================

The *record* says which encoder made the vectors. It is stored as JSON in the collection property
``mmrag.record``: Milvus Lite 3.2.2 drops a schema's description, while both Lite 3.2.2 and the
Milvus 2.3.5 server keep collection properties and let them be altered later (new metadata keys).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

# gRPC reads its log level once, when it loads; without this every fork of an ingest decode worker
# (done on purpose, while gRPC threads run) prints an INFO line.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from pymilvus import DataType, MilvusClient  # noqa: E402

if TYPE_CHECKING:  # the encoders package imports torch; the store must not need it
    from mmrag_lab.encoders.base import EncoderInfo

RECORD_PROPERTY = "mmrag.record"
RECORD_FORMAT = 1
ID_LENGTH = 64
PATH_LENGTH = 4096
CORE_FIELDS = ("path", "width", "height", "file_size", "meta")
# HNSW build parameters when HNSW is asked for by name; AUTOINDEX lets the backend choose (HNSW on
# both Lite 3.2.2 and server 2.3.5), FLAT is exact.
HNSW_PARAMS = {"M": 16, "efConstruction": 200}
# Search-time ef, always sent (a server's AUTOINDEX searched without it gave recall@10 0.85 at 100k). Lite
# spends its time in a per-row Python loop whatever ef is, so 256 (recall@10 0.998) costs it nothing; on a
# server ef=128 gave 0.991 at 3.4 ms. See BENCHMARKS.md.
LITE_SEARCH_EF = 256
SERVER_SEARCH_EF = 128
SEARCH_EF = LITE_SEARCH_EF


@dataclass(frozen=True)
class CollectionRecord:
    """The identity of a collection's vector space, plus the metadata keys its rows carry.

    Attributes:
        encoder: Encoder preset name.
        dim: Vector dimension.
        metric: Milvus metric (``COSINE``).
        index_type: Milvus index type (``AUTOINDEX``, ``HNSW`` or ``FLAT``).
        fingerprint: Hash of the encoder's parameters; equal fingerprints mean equal vector spaces.
        weights: Where the weights came from (shown, not compared: one file may live at two paths).
        untrained: True when the vectors come from untrained weights.
        metadata_keys: Keys found in the ``meta`` field of the rows, sorted.
    """

    encoder: str
    dim: int
    metric: str
    index_type: str
    fingerprint: str
    weights: str
    untrained: bool
    metadata_keys: tuple[str, ...] = field(default=())

    @classmethod
    def for_encoder(cls, info: EncoderInfo, metric: str, index_type: str) -> CollectionRecord:
        """The record a new collection gets for vectors made by ``info``."""
        return cls(
            encoder=info.name,
            dim=int(info.dim),
            metric=metric.upper(),
            index_type=index_type.upper(),
            fingerprint=info.fingerprint,
            weights=str(info.weights),
            untrained=bool(info.untrained),
        )

    @classmethod
    def from_properties(cls, properties: dict[str, Any]) -> CollectionRecord | None:
        """Read the record from collection properties; None when the collection has none."""
        raw = properties.get(RECORD_PROPERTY)
        if not raw:
            return None
        data = json.loads(raw)
        data.pop("format", None)
        data["metadata_keys"] = tuple(data.get("metadata_keys", ()))
        return cls(**data)

    def to_properties(self) -> dict[str, str]:
        data = {"format": RECORD_FORMAT, **asdict(self), "metadata_keys": list(self.metadata_keys)}
        return {RECORD_PROPERTY: json.dumps(data, sort_keys=True)}

    def with_metadata_keys(self, keys: set[str] | list[str] | tuple[str, ...]) -> CollectionRecord:
        return replace(self, metadata_keys=tuple(sorted(set(self.metadata_keys) | set(keys))))

    def differences(self, other: CollectionRecord) -> list[str]:
        """Names of the identity fields (encoder, dim, metric, fingerprint) that differ."""
        names = ("encoder", "dim", "metric", "fingerprint")
        return [name for name in names if getattr(self, name) != getattr(other, name)]

    def mismatch_message(self, wanted: CollectionRecord, where: str) -> str:
        """Why ``wanted`` may not use this collection, naming both sides and the ways out."""
        return (
            f"{where} holds vectors from {self.summary()}, but you opened it with {wanted.summary()}; they "
            f"differ in {', '.join(self.differences(wanted))}. Vectors from different encoders must never "
            "mix: use the encoder the collection was made with, pick another collection name (--collection "
            "/ MMRAG_COLLECTION), or drop this collection and ingest again."
        )

    def summary(self) -> str:
        flag = ", UNTRAINED" if self.untrained else ""
        return (
            f"encoder {self.encoder!r} (dim {self.dim}, metric {self.metric}, weights {self.weights!r}, "
            f"fingerprint {self.fingerprint}{flag})"
        )


def build_schema(dim: int):
    """The explicit collection schema for ``dim``-dimensional vectors."""
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, max_length=ID_LENGTH, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("path", DataType.VARCHAR, max_length=PATH_LENGTH)
    schema.add_field("width", DataType.INT64)
    schema.add_field("height", DataType.INT64)
    schema.add_field("file_size", DataType.INT64)
    schema.add_field("meta", DataType.JSON)
    return schema


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


def default_ef(is_lite: bool) -> int:
    """The search breadth used when none is given."""
    return LITE_SEARCH_EF if is_lite else SERVER_SEARCH_EF


def search_params(index_type: str, metric: str, k: int, ef: int = SEARCH_EF) -> dict[str, Any]:
    """Search parameters: HNSW's ``ef`` (breadth of the graph search, at least ``k``).

    Milvus Lite 3.2.2 honours ``ef`` for AUTOINDEX (its HNSW) and HNSW; the Milvus 2.3.5 server, driven by
    pymilvus 3.0.2, accepted it without a measurable effect on recall in our tests.
    """
    params: dict[str, Any] = {}
    if index_type.upper() in ("HNSW", "AUTOINDEX"):
        params["ef"] = max(ef, k)
    return {"metric_type": metric.upper(), "params": params}


def schema_dim(description: dict[str, Any]) -> int | None:
    """The vector dimension declared in a ``describe_collection`` answer."""
    for spec in description.get("fields", []):
        if spec.get("name") == "vector":
            return int(spec.get("params", {}).get("dim", 0)) or None
    return None
