"""The rules of the one collection check, as plain functions of a record (no Milvus needed)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from store_parts import PART_INFO

from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.errors import (
    CollectionNotFoundError,
    EncoderMismatchError,
    ForeignCollectionError,
    SchemaOutdatedError,
)
from mmrag_lab.store import readiness
from mmrag_lab.store.record import CollectionRecord

RECORD = CollectionRecord.for_encoder(PART_INFO, "COSINE", "AUTOINDEX")
WHERE = "Collection 'c' at /data/x.db"


def test_only_the_known_purposes_are_accepted():
    for purpose in readiness.PURPOSES:
        readiness.check_purpose(purpose)
    with pytest.raises(ValueError, match="purpose must be one of"):
        readiness.check_purpose("browse")


def test_a_missing_collection_says_how_to_make_one():
    error = readiness.not_found("c", "/data/x.db", "evaluate")
    assert isinstance(error, CollectionNotFoundError)
    assert "'c' at /data/x.db" in str(error) and "mmrag ingest" in str(error)


def test_a_record_must_exist_and_be_current_unless_only_inspected():
    assert readiness.require_record(RECORD, WHERE, "/data/x.db", "c") is RECORD
    with pytest.raises(ForeignCollectionError, match="not created by mmrag_lab"):
        readiness.require_record(None, WHERE, "/data/x.db", "c")
    old = replace(RECORD, format=1)
    with pytest.raises(SchemaOutdatedError, match="mmrag migrate --uri /data/x.db --collection c"):
        readiness.require_record(old, WHERE, "/data/x.db", "c")
    assert readiness.require_record(old, WHERE, "/data/x.db", "c", current=False) is old
    assert not readiness.needs_current_format("inspect") and readiness.needs_current_format("search")


def test_another_encoder_is_refused_with_both_sides_named():
    readiness.check_encoder(RECORD, PART_INFO, None, WHERE, "search")
    other = EncoderInfo(name="other", dim=16, untrained=True, weights="untrained", fingerprint="beef")
    with pytest.raises(EncoderMismatchError) as caught:
        readiness.check_encoder(RECORD, other, None, WHERE, "search")
    assert "tiny" in str(caught.value) and "other" in str(caught.value) and WHERE in str(caught.value)
    with pytest.raises(EncoderMismatchError, match="metric"):
        readiness.check_encoder(RECORD, PART_INFO, "L2", WHERE, "ingest")
