"""The collection handle: per-process caches shared by every handle on one collection, loading, and its
calls going through the retry layer (a released collection is loaded again; a refusal is a StoreError)."""

from __future__ import annotations

import pytest
from store_parts import PART_INFO, open_handle

from mmrag_lab.errors import StoreFailedError
from mmrag_lab.store.record import CollectionRecord


@pytest.fixture
def lite(tmp_path):
    from mmrag_lab.config import Config

    return Config.load(env={}, milvus_uri=str(tmp_path / "handle.db"), collection="h")


def test_handles_on_one_collection_share_its_record_and_loaded_state(lite):
    first, second = open_handle(lite), open_handle(lite)
    other = open_handle(lite.with_overrides(collection="other"))
    record = CollectionRecord.for_encoder(PART_INFO, "COSINE", "AUTOINDEX")
    first.record, first.loaded = record, True
    assert second.record == record and second.loaded
    assert other.record is None and not other.loaded
    second.forget()
    assert first.record is None and not first.loaded


def test_load_and_release_change_the_collection_and_the_cache(lite):
    handle = open_handle(lite)
    handle.call("create_collection", handle.collection, dimension=4)
    handle.release()
    assert not handle.loaded
    handle.load()
    assert handle.loaded and "Loaded" in str(handle.call("get_load_state", handle.collection)["state"])
    handle.release()
    assert "NotLoad" in str(handle.call("get_load_state", handle.collection)["state"])


def test_a_collection_released_behind_its_back_is_loaded_again_by_the_retry_layer(lite):
    handle = open_handle(lite)
    handle.call("create_collection", handle.collection, dimension=4)
    handle.load()
    handle.client.release_collection(handle.collection)  # as another process would: the cache says loaded
    assert handle.loaded
    handle.call("insert", handle.collection, [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    hits = handle.call("search", handle.collection, data=[[0.1, 0.2, 0.3, 0.4]], limit=1)
    assert [hit["id"] for hit in hits[0]] == [1]
    assert "Loaded" in str(handle.call("get_load_state", handle.collection)["state"])


def test_a_refused_call_names_the_collection_and_forgets_the_cache(lite):
    handle = open_handle(lite)
    handle.record = CollectionRecord.for_encoder(PART_INFO, "COSINE", "AUTOINDEX")
    with pytest.raises(StoreFailedError, match=r"refused describe_collection on Collection 'h' at"):
        handle.call("describe_collection", handle.collection)
    assert handle.record is None
    assert handle.where() == f"Collection 'h' at {handle.backend.display_uri()}"
