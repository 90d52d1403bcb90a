"""Reads built alone on a handle and a manager: rows written straight through the handle are found."""

from __future__ import annotations

import numpy as np
import pytest
from store_parts import PART_INFO, part_rows

from mmrag_lab.store import rows as store_rows
from mmrag_lab.store.manager import CollectionManager
from mmrag_lab.store.reads import Reads

N = 12


@pytest.fixture
def filled(handle):
    """Reads of a collection of ``N`` rows, written without the Writes part, and released."""
    manager = CollectionManager(handle)
    manager.ensure_collection(PART_INFO)
    rows = part_rows(N)
    handle.call("upsert", handle.collection, [store_rows.complete_row(row) for row in rows])
    handle.call("flush", handle.collection)
    handle.release()  # every read must load it again itself
    return Reads(handle, manager), rows


def test_count_get_and_existing_ids_load_the_collection_themselves(filled):
    reads, rows = filled
    assert not reads.handle.loaded
    assert reads.count() == N
    assert reads.handle.loaded
    assert reads.existing_ids(["r1", "r5", "nobody"]) == {"r1", "r5"}
    got = {row["id"]: row for row in reads.get(["r3", "r4"], output_fields=["width", "root"])}
    assert got == {"r3": {"id": "r3", "width": 13, "root": "a"}, "r4": {"id": "r4", "width": 14, "root": "b"}}


def test_search_finds_a_stored_vector_first_and_honours_a_filter(filled):
    reads, rows = filled
    hits = reads.search(np.stack([rows[7]["vector"], rows[2]["vector"]]), k=3)
    assert [h[0]["id"] for h in hits] == ["r7", "r2"]
    assert hits[0][0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert hits[0][0]["score"] >= hits[0][1]["score"] >= hits[0][2]["score"]
    only_b = reads.search(rows[7]["vector"], k=N, filter='root == "b"', output_fields=["root"])[0]
    assert len(only_b) == N // 2 and {hit["root"] for hit in only_b} == {"b"}


def test_rows_by_folder_hash_and_path(filled):
    reads, _ = filled
    assert sorted(reads.rows_under("a", ["rel_path"])) == sorted(f"r{i}" for i in range(1, N, 2))
    assert [row["id"] for row in reads.rows_with_hashes(["h0", "h0", "missing"])] == ["r0"]
    assert {row["id"]: row["root"] for row in reads.rows_at_paths(["/b/2.jpg", "/a/3.jpg"])} == {
        "r2": "b",
        "r3": "a",
    }


def test_iterate_and_iter_vectors_give_every_row_once(filled):
    reads, rows = filled
    assert sorted(row["id"] for row in reads.iterate(("path",), batch_size=5)) == sorted(
        r["id"] for r in rows
    )
    seen = {}
    for batch, matrix in reads.iter_vectors(("path",), batch_size=5):
        assert matrix.shape == (len(batch), 8) and len(batch) <= 5
        seen.update({row["id"]: vector for row, vector in zip(batch, matrix, strict=True)})
    assert sorted(seen) == sorted(r["id"] for r in rows)
    np.testing.assert_allclose(seen["r4"], rows[4]["vector"], atol=1e-6)


def test_describe_gives_the_count_and_the_record(filled, store_uri):
    reads, _ = filled
    described = reads.describe()
    assert described["collection"] == store_uri.collection and described["count"] == N
    assert (described["encoder"], described["dim"], described["metric"]) == ("tiny", 8, "COSINE")
