"""The one collection check: is a collection fit for a purpose, or exactly why not and what to do.

:meth:`~mmrag_lab.store.manager.CollectionManager.open_collection` (``Store.open_collection``) is what
search, evaluation, inspection, ingest and migration call before they use a collection. It checks, in order,
that the collection exists, that mmrag_lab made it (it has a record), that its format is current (except to
inspect it, or to ``migrate`` it, whose job that is) and that the given encoder made its vectors, with the
plain functions of a record below. Every refusal is one of the :class:`~mmrag_lab.errors.StoreError` family,
and shows the URI only through ``display_uri``.
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


def check_purpose(purpose: str) -> None:
    """Refuse a purpose that is not one of :data:`PURPOSES` (a bug in the caller)."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, got {purpose!r}")


def not_found(collection: str, display_uri: str, purpose: str) -> CollectionNotFoundError:
    """The error for a collection that does not exist: it says how to make one for ``purpose``."""
    return CollectionNotFoundError(
        f"There is no collection {collection!r} at {display_uri}. " + _MAKE_IT[purpose]
    )


def require_record(
    record: CollectionRecord | None, where: str, display_uri: str, collection: str, current: bool = True
) -> CollectionRecord:
    """``record``, once mmrag_lab made the collection (it has one) and, if ``current``, in today's format.

    Raises:
        ForeignCollectionError: There is no record.
        SchemaOutdatedError: ``current`` and the record is of the older format (it names ``mmrag migrate``).
    """
    if record is None:
        raise ForeignCollectionError(
            f"{where} exists but was not created by mmrag_lab (it has no '{RECORD_PROPERTY}' "
            "property). Use another collection name (--collection / MMRAG_COLLECTION) or drop it."
        )
    if current and record.format < RECORD_FORMAT:
        raise SchemaOutdatedError(
            f"{where} was made by an older mmrag_lab: its rows are keyed by content hash "
            f"(record format {record.format}; this version needs {RECORD_FORMAT}, one row per file). "
            "Upgrade it in place, keeping every vector and row (nothing is re-encoded): mmrag migrate "
            f"--uri {display_uri} --collection {collection}"
        )
    return record


def check_encoder(
    record: CollectionRecord, encoder: EncoderInfo, metric: str | None, where: str, purpose: str
) -> None:
    """Refuse an encoder (or metric) other than the one that made the collection's vectors.

    Raises:
        EncoderMismatchError: They differ; the message names both sides and what to do.
    """
    wanted = CollectionRecord.for_encoder(encoder, metric or record.metric, record.index_type)
    if record.differences(wanted):
        raise EncoderMismatchError(_mismatch(record, wanted, where, purpose))


def needs_current_format(purpose: str) -> bool:
    """Whether ``purpose`` needs the current record format (inspecting and migrating do not)."""
    return purpose not in _ANY_FORMAT


def _mismatch(record: CollectionRecord, wanted: CollectionRecord, where: str, purpose: str) -> str:
    return (
        f"{where} holds vectors from {record.summary()}, but the {purpose} encoder is {wanted.summary()}; "
        f"they differ in {', '.join(record.differences(wanted))}. Vectors from different encoders must never "
        f"mix. {_USE_ITS_ENCODER.get(purpose, _USE_ITS_ENCODER['ingest'])}"
    )
