"""Sharded ingest: ``--shard I/N`` splits a folder deterministically (for a job array without Ray), and three
shard processes into one Milvus 2.3.5 server equal a single run."""

from __future__ import annotations

import os
import subprocess
from argparse import Namespace

import numpy as np
import pytest
from test_ingest_resume import ingest_command, make_photos

from mmrag_lab.config import Config
from mmrag_lab.ingestion.scan import in_shard, parse_shard
from mmrag_lab.store.vector_store import Store

RELS = [f"part{i % 7}/img_{i:05d}.jpg" for i in range(3000)]


def test_shards_partition_the_folder_evenly():
    owners = [[i for i in range(3) if in_shard(rel, (i, 3))] for rel in RELS]
    assert all(len(owner) == 1 for owner in owners)
    counts = np.bincount([owner[0] for owner in owners], minlength=3)
    assert counts.min() > 900


def test_a_shard_of_a_shard_is_a_shard_of_the_product():
    for rel in RELS[:500]:
        for i in range(2):
            for j in range(3):
                assert in_shard(rel, (i + 2 * j, 6)) == (
                    in_shard(rel, (i, 2)) and in_shard(rel, (i + 2 * j, 6))
                )
        assert sum(in_shard(rel, (1 + 2 * j, 6)) for j in range(3)) == in_shard(rel, (1, 2))


@pytest.mark.parametrize("bad", ["3/3", "-1/2", "1", "a/b", "1/0"])
def test_bad_shards_are_refused(bad):
    with pytest.raises(ValueError, match="I/N"):
        parse_shard(bad)


@pytest.mark.server
def test_three_shard_processes_equal_one_run(tmp_path, milvus_server):
    folder = tmp_path / "images"
    expected = make_photos(folder, 45)
    (folder / "copies").mkdir()
    (folder / "copies" / "same bytes as img_0000.jpg").write_bytes(
        (folder / "part0" / "img_0000.jpg").read_bytes()
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    fields = ("path", "rel_path", "content_hash", "width", "height", "file_size", "meta", "vector")
    rows = {}
    for name, shards in (("sharded", ["0/3", "1/3", "2/3"]), ("single", [None])):
        target = Namespace(uri=milvus_server.uri, collection=f"shards_{name}_{os.getpid()}")
        commands = [ingest_command(folder, target) + (["--shard", s] if s else []) for s in shards]
        processes = [
            subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) for c in commands
        ]
        for process in processes:
            output = process.communicate(timeout=600)[0].decode()
            assert process.returncode == 0, output
        config = Config.load(env={}, milvus_uri=target.uri, collection=target.collection, encoder="tiny")
        with Store.open(config) as store:
            store.flush_and_load()
            listed = list(store.iterate(fields))
            store.drop()
        rows[name] = {r["id"]: r for r in listed}
        assert len(rows[name]) == len(listed) == 46, f"{name}: {len(listed)} rows"
    assert rows["sharded"].keys() == rows["single"].keys()
    assert {r["content_hash"] for r in rows["single"].values()} == set(expected)
    for key, row in rows["single"].items():
        other = rows["sharded"][key]
        assert {f: other[f] for f in fields[:-1]} == {f: row[f] for f in fields[:-1]}
        np.testing.assert_allclose(other["vector"], row["vector"], atol=1e-5)
