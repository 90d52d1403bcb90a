"""The store's parts built alone: a collection handle on a real Milvus Lite file or the real 2.3.5 server."""

from __future__ import annotations

import pytest
from store_parts import open_handle

from mmrag_lab.store.handle import CollectionHandle


@pytest.fixture
def handle(store_uri) -> CollectionHandle:
    """A handle on a fresh collection name (nothing is created)."""
    return open_handle(store_uri.config())
