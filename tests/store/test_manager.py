"""The collection manager built alone on a handle: it makes, checks, records and drops one collection."""

from __future__ import annotations

from dataclasses import replace

import pytest
from store_parts import PART_INFO, open_handle

from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.errors import (
    CollectionNotFoundError,
    EncoderMismatchError,
    ForeignCollectionError,
    SchemaOutdatedError,
)
from mmrag_lab.store.manager import CollectionManager


@pytest.fixture
def manager(handle) -> CollectionManager:
    return CollectionManager(handle)


def test_ensure_collection_makes_it_once_with_the_encoders_record(manager, store_uri):
    assert not manager.exists()
    record = manager.ensure_collection(PART_INFO, metadata_keys=["title"])
    assert manager.exists() and store_uri.collection in manager.names()
    assert (record.encoder, record.dim, record.metric, record.metadata_types) == (
        "tiny", 8, "COSINE", {"title": "text"},
    )  # fmt: skip
    again = manager.ensure_collection(PART_INFO, metadata_types={"year": "int"})  # an existing one: checked
    assert again.metadata_types == {"title": "text", "year": "int"}
    fresh = CollectionManager(open_handle(store_uri.config()))
    fresh.refresh()  # nothing cached: the record is read back from the backend
    assert fresh.record() == again


def test_open_collection_says_why_a_collection_is_not_fit(manager):
    with pytest.raises(CollectionNotFoundError, match="mmrag ingest"):
        manager.open_collection("search")
    manager.ensure_collection(PART_INFO)
    other = EncoderInfo(name="other", dim=8, untrained=True, weights="untrained", fingerprint="beef")
    with pytest.raises(EncoderMismatchError, match="other"):
        manager.open_collection("search", other)
    assert manager.open_collection("search", PART_INFO).encoder == "tiny"
    assert manager.handle.loaded  # ready for searches
    with pytest.raises(ValueError, match="purpose"):
        manager.open_collection("browse")


def test_an_older_format_is_refused_but_for_inspection(manager):
    record = manager.ensure_collection(PART_INFO)
    manager.write_record(replace(record, format=1))
    with pytest.raises(SchemaOutdatedError, match="mmrag migrate"):
        manager.open_collection("search")
    assert manager.open_collection("inspect").format == 1


def test_a_collection_mmrag_lab_did_not_make_is_foreign(manager):
    manager.handle.call("create_collection", manager.handle.collection, dimension=4)
    with pytest.raises(ForeignCollectionError, match="not created by mmrag_lab"):
        manager.open_collection("inspect")
    assert manager.record() is None


def test_register_root_records_a_folder_once(manager):
    manager.ensure_collection(PART_INFO)
    name = manager.register_root("/data/shoes")
    assert manager.register_root("/data/shoes") == name
    manager.refresh()
    assert manager.record().roots == {name: "/data/shoes"}


def test_drop_deletes_it_and_forgets_the_cache(manager):
    manager.ensure_collection(PART_INFO)
    manager.handle.load()
    manager.drop()
    assert not manager.exists()
    assert manager.cached_record() is None and not manager.handle.loaded
