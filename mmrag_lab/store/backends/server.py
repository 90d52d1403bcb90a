"""A Milvus server or Zilliz Cloud, at ``http(s)://host:port``; its token comes from ``MMRAG_MILVUS_TOKEN``.

Servers differ by version: 2.3 matches only ``like`` prefixes (see :mod:`mmrag_lab.store.filters`), BM25
text search and hybrid search arrived in 2.5, and partial upserts in 2.6. A server reports how far its index build has come, so sealing waits for it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from mmrag_lab.config import SERVER_SCHEMES
from mmrag_lab.redaction import public_url
from mmrag_lab.store.backends.base import Backend
from mmrag_lab.store.backends.connect import new_client, version_at_least
from mmrag_lab.store.schema import SERVER_SEARCH_EF

if TYPE_CHECKING:
    from pymilvus import MilvusClient

log = logging.getLogger(__name__)


class ServerBackend(Backend):
    """A Milvus server (standalone or cluster) or Zilliz Cloud."""

    name = "milvus-server"
    label = "Milvus server"
    search_ef = SERVER_SEARCH_EF

    @staticmethod
    def accepts(uri: str) -> bool:
        return uri.startswith(SERVER_SCHEMES)

    def client_key(self) -> str:
        return self.uri

    def open_client(
        self, token: str, idle_timeout_s: float | None, connect_timeout_s: float | None = None
    ) -> MilvusClient:
        return new_client(self.uri, token, self.display_uri(), connect_timeout_s)

    def display_uri(self) -> str:
        return public_url(self.uri) or ""

    def supports_partial_update(self, client: MilvusClient) -> bool:
        # 2.3.5 answers a partial upsert with "float vector field 'vector' is illegal"
        return version_at_least(self.server_version(client), 2, 6)

    def text_search_refusal(self, client: MilvusClient) -> str | None:
        # Sparse vectors came in 2.4, the BM25 function in 2.5; a server that does not say (Zilliz Cloud) may try
        version = self.server_version(client)
        if not version or version_at_least(version, 2, 5):
            return None
        return (
            f"the Milvus server {version} at {self.display_uri()} has no BM25 text search or hybrid search; "
            "use a Milvus Lite file (--uri ./NAME.db) or a Milvus server >= 2.5 (or Zilliz Cloud)"
        )

    def seal(self, handle: Any, index_timeout: float) -> None:
        handle.call("flush", handle.collection)
        deadline = time.monotonic() + index_timeout
        while time.monotonic() < deadline:
            state = handle.call("describe_index", handle.collection, "vector")
            pending, indexed = state.get("pending_index_rows"), state.get("indexed_rows", 0)
            if not pending and indexed >= state.get("total_rows", 0):
                return
            time.sleep(0.5)
        log.warning(
            "%s: the index is still building after %.0f s; searches stay slow until it is done.",
            handle.where(),
            index_timeout,
        )
