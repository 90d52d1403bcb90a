"""Milvus Lite: a local ``.db`` folder, served to every process on this machine by its own server.

Milvus Lite lets one process open a file, so every process reaches it through the file's server
(:mod:`mmrag_lab.store.lite_discovery` finds or starts it): notebook kernels, the CLI, papermill runs and the
app share one database. When that server goes away (killed, or stopped while idle) the next call finds or
starts it again.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrag_lab.config import is_lite_uri
from mmrag_lab.errors import (
    CollectionNotFoundError,
    ConfigError,
    IgnoredSettingWarning,
    StoreError,
    StoreGoneError,
    StoreRepairedWarning,
)
from mmrag_lab.store import lite_discovery
from mmrag_lab.store.backends.base import RECONNECT, REPAIR, Backend
from mmrag_lab.store.backends.connect import error_text, lost_connection, new_client
from mmrag_lab.store.filters import LITE, Dialect
from mmrag_lab.store.schema import LITE_SEARCH_EF

if TYPE_CHECKING:
    from pymilvus import MilvusClient


class LiteBackend(Backend):
    """A Milvus Lite file (a local path ending in ``.db``)."""

    name = "milvus-lite"
    label = "Milvus Lite"
    search_ef = LITE_SEARCH_EF
    bm25_sign = -1.0  # Milvus Lite 3.2.2 reports plain BM25 search scores negated
    _identity: tuple[int, int] | None = None  # (device, inode) of the folder when the client was made

    @staticmethod
    def accepts(uri: str) -> bool:
        return is_lite_uri(uri)

    def client_key(self) -> str:
        return str(_check_folder(lite_path(self.uri)))

    def open_client(
        self, token: str, idle_timeout_s: float | None, connect_timeout_s: float | None = None
    ) -> MilvusClient:
        timeout = lite_discovery.DEFAULT_IDLE_TIMEOUT_S if idle_timeout_s is None else idle_timeout_s
        path = _check_folder(lite_path(self.uri))
        check_writable(path)
        if token:
            warnings.warn(
                f"MMRAG_MILVUS_TOKEN is set, but {self.uri} is a Milvus Lite file, which has no accounts: the "
                "token is not used (it is for Milvus servers and Zilliz Cloud).",
                IgnoredSettingWarning,
                stacklevel=2,
            )
        try:
            address = lite_discovery.ensure_server(str(path), timeout)
        except OSError as exc:  # a folder that turned read-only, a full disk
            raise StoreError(
                f"Cannot open the Milvus Lite database {path}: {exc.strerror or exc} ({exc.filename}). "
                "Check that its folder is writable and the disk has room."
            ) from None
        self._identity = _identity(path)  # the folder this client's server serves (see recovery)
        return new_client(address, "", self.uri, connect_timeout_s)

    def check_readable(self) -> None:
        check_readable(lite_path(self.uri))

    def display_uri(self) -> str:
        return self.uri

    def dialect(self, client: MilvusClient) -> Dialect:
        return LITE

    def supports_partial_update(self, client: MilvusClient) -> bool:
        return True  # Milvus Lite 3.x

    def seal(self, handle: Any, index_timeout: float) -> None:
        # A flush of a loaded Lite collection builds the new segments' HNSW on a background thread while
        # searches brute-force them; flushing it released and then loading it builds each index once, now.
        handle.release()
        handle.call("flush", handle.collection)

    def recovery(self, exc: Exception) -> str | None:
        if lost_connection(exc):  # the file's server went away (killed, stopped while idle): find or start it
            self._check_same_folder()  # unless the folder itself went: its server stops then (lite_server)
            return RECONNECT
        text = error_text(exc).lower()
        if "file exists" in text or "directory not empty" in text:
            return REPAIR  # a collection's folder without its schema: see repair
        return super().recovery(exc)

    def repair(self, collection: str) -> None:
        """Remove ``collection``'s folder when it holds no schema: Lite does not count it as a collection,
        yet cannot create or rename one onto it. It is what a write leaves when the database folder is
        deleted under a running server (which makes its folders again), or when a server dies mid-create.
        """
        folder = lite_path(self.uri) / "collections" / collection
        if not folder.is_dir() or (folder / "schema.json").exists():
            return
        shutil.rmtree(folder, ignore_errors=True)
        warnings.warn(
            f"{self.uri} held the remains of collection {collection!r} without its schema (its folder was "
            "deleted while in use, or a server stopped mid-write); they were removed and the work goes on.",
            StoreRepairedWarning,
            stacklevel=2,
        )

    def same_database(self) -> bool:
        return self._identity is None or _identity(lite_path(self.uri)) == self._identity

    def _check_same_folder(self) -> None:
        path = lite_path(self.uri)
        before, self._identity = self._identity, _identity(path)
        if before is None or self._identity == before:
            return
        again = "; something made it again since" if self._identity else ""
        raise StoreGoneError(
            f"The Milvus Lite database {path} was deleted or replaced while this process was using it{again}, so its "
            "server stopped and what it held is gone; nothing more was written. Run the command again: it "
            f"starts afresh at {path} (an ingest stores every image again)."
        )

    def served_file(self) -> Path:
        return lite_path(self.uri)

    def silent_server_advice(self) -> str | None:
        return lite_discovery.server_status(str(self.served_file())).get("advice")  # ours, alive, silent

    def stalled_advice(self) -> str:
        status = lite_discovery.server_status(str(self.served_file()))
        if status.get("advice"):  # ours, alive and still silent: stopped or busy
            return status["advice"]
        if status["running"]:
            return (
                f"Its server (pid {status['pid']}) answers again: run the command again; a call that is slow "
                "on purpose may need a longer MMRAG_MILVUS_TIMEOUT."
            )
        return "Its server has gone; the next command starts a new one."


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


def is_database(path: Path) -> bool:
    """True when ``path`` is a Milvus Lite 3 data folder (it holds the engine's ``collections`` folder)."""
    return path.is_dir() and (path / "collections").is_dir()


def check_readable(path: Path) -> None:
    """Refuse, before anything is started or created, a path that holds no Milvus Lite database.

    Raises:
        CollectionNotFoundError: Nothing is at ``path`` (or only an empty folder).
        StoreError: ``path`` is a file, or a folder with other content.
    """
    _check_folder(path)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        raise CollectionNotFoundError(
            f"There is no Milvus Lite database at {path}, so there is nothing to show and nothing was "
            f"created. Check --uri / MMRAG_MILVUS_URI, or ingest first: mmrag ingest FOLDER --uri {path}"
        )


def _check_folder(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise StoreError(
            f"{path} is a file, but Milvus Lite 3 keeps a collection in a folder. It may come from Milvus "
            "Lite 2.x, or be another program's file; pick a new path (e.g. --uri ./mmrag_lab3.db)."
        )
    if path.is_dir() and any(path.iterdir()) and not is_database(path):
        raise StoreError(
            f"{path} is a folder with other content, not a Milvus Lite database; nothing was written to it. "
            "Pick a path that does not exist yet (e.g. --uri ./mmrag_lab.db) or an existing database."
        )
    return path


def check_writable(path: Path) -> None:
    """Refuse a ``.db`` whose folder cannot take its lock and server record (a read-only folder).

    Raises:
        StoreError: The folder (or the nearest one that exists) is not writable.
    """
    lock = Path(f"{path}.server.lock")
    if lock.is_file() and os.access(lock, os.W_OK):
        return
    folder = next(p for p in path.parents if p.exists())
    if not _writable(folder):
        raise StoreError(
            f"Cannot open the Milvus Lite database {path}: the folder {folder} is not writable (Lite keeps a "
            "lock and a server record beside the .db). Use a folder you can write to, or copy the .db there."
        )


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _writable(folder: Path) -> bool:
    if not os.access(folder, os.W_OK):
        return False
    probe = folder / f".mmrag-write-probe-{os.getpid()}"
    try:  # root passes os.access anywhere; an immutable or read-only-mounted folder still refuses
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False
