"""Milvus Lite: a local ``.db`` folder, served to every process on this machine by its own server.

Milvus Lite lets one process open a file, so every process reaches it through the file's server
(:mod:`mmrag_lab.store.lite_discovery` finds or starts it): notebook kernels, the CLI, papermill runs and the
app share one database. When that server goes away (killed, or stopped while idle) the next call finds or
starts it again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag_lab.config import is_lite_uri
from mmrag_lab.errors import ConfigError, StoreError
from mmrag_lab.store import lite_discovery
from mmrag_lab.store.backends.base import RECONNECT, Backend, lost_connection, new_client
from mmrag_lab.store.filters import LITE, Dialect
from mmrag_lab.store.schema import LITE_SEARCH_EF

if TYPE_CHECKING:
    from pymilvus import MilvusClient


class LiteBackend(Backend):
    """A Milvus Lite file (a local path ending in ``.db``)."""

    name = "milvus-lite"
    label = "Milvus Lite"
    search_ef = LITE_SEARCH_EF

    @staticmethod
    def accepts(uri: str) -> bool:
        return is_lite_uri(uri)

    def client_key(self) -> str:
        return str(_check_folder(lite_path(self.uri)))

    def open_client(self, token: str, idle_timeout_s: float | None) -> MilvusClient:
        timeout = lite_discovery.DEFAULT_IDLE_TIMEOUT_S if idle_timeout_s is None else idle_timeout_s
        return new_client(lite_discovery.ensure_server(str(lite_path(self.uri)), timeout), "", self.uri)

    def display_uri(self) -> str:
        return self.uri

    def dialect(self, client: MilvusClient) -> Dialect:
        return LITE

    def supports_partial_update(self, client: MilvusClient) -> bool:
        return True  # Milvus Lite 3.x

    def seal(self, store: Any, index_timeout: float) -> None:
        # A flush of a loaded Lite collection builds the new segments' HNSW on a background thread while
        # searches brute-force them; flushing it released and then loading it builds each index once, now.
        store.release()
        store.flush()

    def recovery(self, exc: Exception) -> str | None:
        # the file's server went away (killed, or stopped while idle): find or start it
        return RECONNECT if lost_connection(exc) else super().recovery(exc)

    def served_file(self) -> Path:
        return lite_path(self.uri)


def lite_path(uri: str) -> Path:
    """The absolute Milvus Lite folder for a local URI.

    Raises:
        ConfigError: The path does not end in ``.db``.
    """
    path = Path(os.path.expanduser(uri)).absolute()
    if path.suffix != ".db":
        raise ConfigError(
            f"Milvus URI {uri!r} is neither a server address (http://host:port) nor a Milvus Lite file: "
            "Milvus Lite paths must end in '.db', e.g. ./mmrag_lab.db."
        )
    return path


def _check_folder(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise StoreError(
            f"{path} is a file, but Milvus Lite 3 keeps a collection in a folder. It may come from Milvus "
            "Lite 2.x; pick a new path (e.g. --uri ./mmrag_lab3.db) and ingest again."
        )
    return path
