"""The collection record: which encoder made the vectors, which folders were ingested, what metadata means.

It is stored as JSON in the collection property ``mmrag.record``: Milvus Lite 3.2.2 drops a schema's
description, while both Lite 3.2.2 and the Milvus 2.3.5 server keep collection properties and let them be
altered later (new metadata keys, new folders). Format 2 added ``roots`` and ``metadata_types``; a
format-1 record belongs to a content-hash keyed collection (see :mod:`mmrag_lab.store.migrate`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mmrag_lab.store.metatypes import widen

if TYPE_CHECKING:  # the encoders package imports torch; the store must not need it
    from mmrag_lab.encoders.base import EncoderInfo

RECORD_PROPERTY = "mmrag.record"
RECORD_FORMAT = 2


@dataclass(frozen=True)
class CollectionRecord:
    """The identity of a collection's vector space, its ingested folders and its metadata columns.

    Attributes:
        encoder: Encoder preset name.
        dim: Vector dimension.
        metric: Milvus metric (``COSINE``).
        index_type: Milvus index type (``AUTOINDEX``, ``HNSW`` or ``FLAT``).
        fingerprint: Hash of the encoder's parameters; equal fingerprints mean equal vector spaces.
        weights: Where the weights came from (shown, not compared: one file may live at two paths).
        untrained: True when the vectors come from untrained weights.
        metadata_keys: Keys found in the ``meta`` field of the rows, sorted.
        metadata_types: Type of each metadata key (see :mod:`mmrag_lab.store.metatypes`).
        roots: Name of each ingested folder to its absolute path when it was last ingested. Row ids are
            made from the name and the path relative to the folder, so a moved folder keeps its rows.
        format: Record format; 1 is the content-hash keyed schema that must be migrated.
        text_fields: The sidecar columns joined into the analysed ``text`` field (BM25); empty when the
            collection has no text field (see :mod:`mmrag_lab.store.text_fields`).
    """

    encoder: str
    dim: int
    metric: str
    index_type: str
    fingerprint: str
    weights: str
    untrained: bool
    metadata_keys: tuple[str, ...] = field(default=())
    metadata_types: dict[str, str] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    format: int = RECORD_FORMAT
    text_fields: tuple[str, ...] = field(default=())

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
        data["format"] = int(data.get("format", 1))
        data["metadata_keys"] = tuple(data.get("metadata_keys", ()))
        data["text_fields"] = tuple(data.get("text_fields", ()))
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_properties(self) -> dict[str, str]:
        data = {
            **asdict(self),
            "metadata_keys": list(self.metadata_keys),
            "text_fields": list(self.text_fields),
        }
        if not self.text_fields:
            del data["text_fields"]  # a record without text reads the same to an older mmrag_lab
        return {RECORD_PROPERTY: json.dumps(data, sort_keys=True)}

    def with_metadata_keys(self, keys: set[str] | list[str] | tuple[str, ...]) -> CollectionRecord:
        return replace(self, metadata_keys=tuple(sorted(set(self.metadata_keys) | set(keys))))

    def with_metadata_types(self, types: dict[str, str]) -> CollectionRecord:
        """Add columns; a column seen before keeps the widest type of old and new (int + float = float)."""
        merged = dict(self.metadata_types)
        for key, kind in types.items():
            merged[key] = widen(merged.get(key), kind)
        return replace(self, metadata_types=merged).with_metadata_keys(types)

    def root_name(self, folder: str, moved: Callable[[str], bool] | None = None) -> tuple[str, bool]:
        """The name that rows under ``folder`` (absolute) use, and whether the record must learn it.

        A folder recorded before keeps its name. A folder with the same base name as a recorded folder
        that no longer exists may be that folder, moved: when ``moved(name)`` agrees (it holds that folder's
        files; see :mod:`mmrag_lab.ingestion.roots`), it takes over the name, so its rows keep their ids and
        nothing is re-encoded. Any other folder gets its base name, made unique with ``-2``, ``-3``: a
        vanished folder (an unmounted drive) keeps its name for when it comes back.
        """
        for name, path in self.roots.items():
            if path == folder:
                return name, False
        base = os.path.basename(folder.rstrip("/")) or "root"
        if base in self.roots and not os.path.isdir(self.roots[base]) and (moved is None or moved(base)):
            return base, True
        name, number = base, 1
        while name in self.roots:
            number += 1
            name = f"{base}-{number}"
        return name, True

    def with_root(self, name: str, folder: str) -> CollectionRecord:
        return replace(self, roots={**self.roots, name: folder})

    def differences(self, other: CollectionRecord) -> list[str]:
        """Names of the identity fields (encoder, dim, metric, fingerprint) that differ."""
        names = ("encoder", "dim", "metric", "fingerprint")
        return [name for name in names if getattr(self, name) != getattr(other, name)]

    def summary(self) -> str:
        flag = ", UNTRAINED" if self.untrained else ""
        return (
            f"encoder {self.encoder!r} (dim {self.dim}, metric {self.metric}, weights {self.weights!r}, "
            f"fingerprint {self.fingerprint}{flag})"
        )
