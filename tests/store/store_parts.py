"""Helpers for the tests of the store's parts built alone (reads, writes, collection management)."""

from __future__ import annotations

import numpy as np

from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.store import clients
from mmrag_lab.store.handle import CollectionHandle

PART_INFO = EncoderInfo(name="tiny", dim=8, untrained=True, weights="untrained", fingerprint="f00d")


def open_handle(config) -> CollectionHandle:
    """A handle on ``config``'s collection, with the process's client, as ``Store.open`` makes one."""
    client = clients.connect(
        config.milvus_uri, config.milvus_token, config.lite_idle_timeout, config.milvus_connect_timeout
    )
    return CollectionHandle(client, config.milvus_uri, config.collection, config)


def part_rows(n: int, seed: int = 0, prefix: str = "r") -> list[dict]:
    """``n`` complete rows of unit vectors (dimension 8), two folders' worth of paths."""
    vectors = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        {"id": f"{prefix}{i}", "vector": vector, "path": f"/{'a' if i % 2 else 'b'}/{i}.jpg",
         "root": "a" if i % 2 else "b", "rel_path": f"{i}.jpg", "content_hash": f"h{i}", "width": 10 + i,
         "height": 5, "file_size": 100 + i, "meta": {"n": i}}
        for i, vector in enumerate(vectors)
    ]  # fmt: skip
