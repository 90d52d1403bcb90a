"""The one collection check: open a collection for a purpose, or say exactly why not and what to do.

:meth:`StoreChecks.open_collection` is what search, evaluation, inspection, ingest and migration call before
they use a collection. It checks, in order, that the collection exists, that mmrag_lab made it (it has a
record), that its format is current (except to inspect it, or to ``migrate`` it, whose job that is) and that the given encoder
made its vectors. Every refusal is one of the :class:`~mmrag_lab.errors.StoreError` family below, and shows
the URI only through ``display_uri``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmrag_lab.errors import (
    CollectionNotFoundError,
    EncoderMismatchError,
    ForeignCollectionError,
    SchemaOutdatedError,
)
from mmrag_lab.store.record import RECORD_FORMAT, RECORD_PROPERTY, CollectionRecord

if TYPE_CHECKING:  # the encoders package imports torch; the store must not need it
    from mmrag_lab.encoders.base import EncoderInfo

PURPOSES = ("search", "evaluate", "inspect", "ingest", "migrate")
_ANY_FORMAT = (
    "inspect",
    "migrate",
)  # reading what an older collection holds, and upgrading it, need no upgrade
_INGEST = "mmrag ingest FOLDER, or mmrag_lab.ingest(folder)"
_MAKE_IT = {
    "search": f"Ingest images first ({_INGEST}), or set MMRAG_COLLECTION / MMRAG_MILVUS_URI.",
    "evaluate": "Ingest the benchmark's images first (mmrag ingest IMAGES --collection NAME).",
    "inspect": "Ingest images first (notebook 01_ingest, or `mmrag ingest IMAGES_DIR`), or pick the right URI "
    "and collection.",
    "ingest": "It was dropped while the ingest opened it; run the ingest again.",
    "migrate": "There is nothing to migrate: pick the right URI and collection.",
}
_USE_ITS_ENCODER = {
    "search": "Pass the encoder the collection was made with, or leave encoder= unset to load it.",
    "evaluate": "Evaluate with the encoder and weights the collection was made with.",
    "inspect": "Pass the encoder the collection was made with, or leave encoder= unset to load it.",
    "ingest": "Use the encoder the collection was made with, pick another collection name (--collection / "
    "MMRAG_COLLECTION), or drop this collection and ingest again.",
}


class StoreChecks:
    """The checking part of :class:`~mmrag_lab.store.vector_store.Store`."""

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
        if purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {PURPOSES}, got {purpose!r}")
        if purpose in ("ingest", "migrate"):
            self.refresh()  # another process may have changed the record since this one read it
        if self.cached_record() is None and not self.exists():
            raise CollectionNotFoundError(
                f"There is no collection {self.collection!r} at {self.backend.display_uri()}. "
                + _MAKE_IT[purpose]
            )
        record = self._require_record(current=purpose not in _ANY_FORMAT)
        if encoder is not None:
            wanted = CollectionRecord.for_encoder(encoder, metric or record.metric, record.index_type)
            if record.differences(wanted):
                raise EncoderMismatchError(_mismatch(record, wanted, self._where(), purpose))
        if purpose != "migrate":
            self.load()
        return record

    def _require_record(self, current: bool = True) -> CollectionRecord:
        record = self.record()
        if record is None:
            raise ForeignCollectionError(
                f"{self._where()} exists but was not created by mmrag_lab (it has no '{RECORD_PROPERTY}' "
                "property). Use another collection name (--collection / MMRAG_COLLECTION) or drop it."
            )
        if current and record.format < RECORD_FORMAT:
            raise SchemaOutdatedError(
                f"{self._where()} was made by an older mmrag_lab: its rows are keyed by content hash "
                f"(record format {record.format}; this version needs {RECORD_FORMAT}, one row per file). "
                "Upgrade it in place, keeping every vector and row (nothing is re-encoded): mmrag migrate "
                f"--uri {self.backend.display_uri()} --collection {self.collection}"
            )
        return record


def _mismatch(record: CollectionRecord, wanted: CollectionRecord, where: str, purpose: str) -> str:
    return (
        f"{where} holds vectors from {record.summary()}, but the {purpose} encoder is {wanted.summary()}; "
        f"they differ in {', '.join(record.differences(wanted))}. Vectors from different encoders must never "
        f"mix. {_USE_ITS_ENCODER.get(purpose, _USE_ITS_ENCODER['ingest'])}"
    )
