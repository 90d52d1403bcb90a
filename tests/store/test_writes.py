"""Writes built alone on a handle (and the Reads it is given): rows go in, change, go out, and are indexed."""

from __future__ import annotations

import numpy as np
import pytest
from store_parts import PART_INFO, part_rows

from mmrag_lab.store.manager import CollectionManager
from mmrag_lab.store.reads import Reads
from mmrag_lab.store.writes import Writes


@pytest.fixture
def writes(handle) -> Writes:
    manager = CollectionManager(handle)
    manager.ensure_collection(PART_INFO)
    return Writes(handle, Reads(handle, manager))


def stored(writes: Writes, ids: list[str], fields: list[str]) -> dict[str, dict]:
    """The rows as Milvus holds them, read straight through the handle."""
    handle = writes.handle
    handle.load()
    found = handle.call("query", handle.collection, filter=f"id in {ids!r}".replace("'", '"'),
                        output_fields=["id", *fields], consistency_level="Strong")  # fmt: skip
    return {row["id"]: dict(row) for row in found}


def test_insert_writes_whole_rows_and_a_repeat_replaces_them(writes):
    rows = part_rows(6)
    assert writes.insert(rows) == 6
    assert writes.insert(rows[:2]) == 2  # upsert: the same ids again are no new rows
    got = stored(writes, [r["id"] for r in rows], ["path", "width"])
    assert len(got) == 6 and got["r3"]["path"] == "/a/3.jpg" and got["r3"]["width"] == 13
    assert writes.reads.count() == 6


def test_insert_new_names_the_rows_that_already_held_these_bytes(writes):
    rows = part_rows(4)
    assert writes.insert_new(rows[:2]) == set()
    # A server's look-up reads at Eventually consistency; a Strong read first makes the rows visible to it.
    assert writes.reads.count() == 2
    changed = [{**rows[1], "content_hash": "other"}]
    assert writes.insert_new([rows[0], *changed, *rows[2:]]) == {"r0"}


def test_update_fields_keeps_the_vector_and_delete_removes(writes):
    rows = part_rows(5)
    writes.insert(rows)
    assert writes.update_fields({"r1": {"width": 999}, "r3": {"height": 7}}) == 2
    got = stored(writes, ["r1"], ["width", "vector", "path"])["r1"]
    assert got["width"] == 999 and got["path"] == "/a/1.jpg"
    assert stored(writes, ["r3"], ["width", "height"])["r3"] == {"id": "r3", "width": 13, "height": 7}
    np.testing.assert_allclose(got["vector"], rows[1]["vector"], atol=1e-6)
    assert writes.update_fields({}) == 0
    assert writes.delete(["r0", "r2"]) == 2
    assert sorted(stored(writes, [r["id"] for r in rows], ["path"])) == ["r1", "r3", "r4"]


def test_update_fields_skips_ids_that_are_not_stored_and_updates_the_rest(writes):
    rows = part_rows(3)
    writes.insert(rows)
    changes = {"r1": {"width": 999}, "gone": {"width": 5}, "r2": {"width": 998}, "never": {"height": 1}}
    assert writes.update_fields(changes) == 2
    got = stored(writes, ["r1", "r2", "gone", "never"], ["width", "vector"])
    assert sorted(got) == ["r1", "r2"] and (got["r1"]["width"], got["r2"]["width"]) == (999, 998)
    np.testing.assert_allclose(got["r2"]["vector"], rows[2]["vector"], atol=1e-6)
    assert writes.update_fields({"gone": {"width": 5}}) == 0


def test_flush_and_load_leaves_the_rows_indexed_loaded_and_found(writes):
    rows = part_rows(8)
    writes.insert(rows)
    writes.handle.release()
    writes.flush_and_load(index_timeout=60)
    assert writes.handle.loaded
    state = writes.handle.call("get_load_state", writes.handle.collection)
    assert "Loaded" in str(state["state"])
    assert writes.reads.search(rows[6]["vector"], k=1)[0][0]["id"] == "r6"
