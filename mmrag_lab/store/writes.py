"""Writing rows: upserts batched under the RPC cap, deletes, flushes and the index build at the end."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mmrag_lab.store import rows as store_rows
from mmrag_lab.store.rows import ID_CHUNK, MAX_WRITE_BYTES, STRONG
from mmrag_lab.store.schema import CORE_FIELDS
from mmrag_lab.store.text_fields import TEXT_FIELD, text_of

if TYPE_CHECKING:
    from mmrag_lab.store.handle import CollectionHandle
    from mmrag_lab.store.reads import Reads

EVENTUALLY = "Eventually"


@dataclass
class _Writing:
    """This process's writing session on one collection (see :meth:`Writes.writing`)."""

    fd: int  # the presence file, held with a shared flock while the session lasts
    generation: int  # the presence file's count of sessions begun, as this one began
    alone: bool  # no other session was open when this one began
    depth: int = 1


_SESSIONS: dict[str, _Writing] = {}
_SESSIONS_GUARD = threading.Lock()


class Writes:
    """Writing one collection's rows, through a :class:`~mmrag_lab.store.handle.CollectionHandle`;
    :class:`~mmrag_lab.store.reads.Reads` reads back the whole rows that an older server's update needs."""

    def __init__(self, handle: CollectionHandle, reads: Reads):
        self.handle = handle
        self.reads = reads

    def insert(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write complete rows (``id``, ``vector`` and the :data:`CORE_FIELDS`), batched under the RPC cap.

        Each RPC is all-or-nothing, so a row is never half-written. Rows whose ``id`` exists are replaced.

        Returns:
            The number of rows written.
        """
        written = 0
        for batch in store_rows.byte_batches(rows, MAX_WRITE_BYTES):
            self.handle.call("upsert", self.handle.collection, self._complete(batch))
            written += len(batch)
        return written

    def insert_new(self, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """Write complete rows like :meth:`insert`; return the ids that already held these bytes.

        Those rows were written by another process since this one planned: the write changed nothing
        there, and a report must not count them as this run's. The look-up and the write of each batch
        hold a lock that every writer of this collection on this machine takes (for Milvus Lite, every
        writer of the file), so two concurrent ingests never both count one row. A served file (Milvus
        Lite) answers the look-up at once; a server's look-up reads at Eventually consistency (a Strong or
        Session read there waits about 200 ms per batch), so a row that another writer stored in the last
        fraction of a second may, rarely, be counted by both. Inside a :meth:`writing` block that has had a
        Lite file's collection to itself, nobody else can have stored these rows, and the look-up is skipped.
        """
        already: set[str] = set()
        for batch in store_rows.byte_batches(rows, MAX_WRITE_BYTES):
            with self._writers_lock():
                alone = self._alone()
                stored = {} if alone else self._stored_hashes([str(row["id"]) for row in batch])
                self.handle.call("upsert", self.handle.collection, self._complete(batch))
            already.update(str(r["id"]) for r in batch if stored.get(str(r["id"])) == r["content_hash"])
        return already

    def _complete(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        columns = self._text_columns()
        return [store_rows.complete_row(row, columns) for row in rows]

    def _text_columns(self) -> tuple[str, ...]:
        record = self.reads.manager.record()
        return record.text_fields if record is not None else ()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Declare this process a writer of the collection for the block: an ingest, from its plan to its
        last write.

        On a Milvus Lite file, every writer is on this machine. While no other process's block was open when
        this one began, and none has begun since, :meth:`insert_new` knows that nobody else can have stored
        its rows and skips its look-up (a query per batch). A server's writers may be anywhere, so there the
        block changes nothing and every batch is looked up. Sessions are counted in a presence file beside the writers' lock; a process that ends,
        however it ends, drops its flock on it. A write by :meth:`insert_new` outside any block counts as a
        session begun, so blocks open elsewhere go back to looking up.
        """
        if not self.handle.backend.served_file():  # a server's other writers may be on other machines
            yield
            return
        path = self._lock_path() + ".present"
        with _SESSIONS_GUARD:
            session = _SESSIONS.get(path)
            if session is not None:  # two ingests of one process at once: neither is alone
                session.depth += 1
                session.alone = False
            else:
                session = self._begin_session(path)
                if session is not None:
                    _SESSIONS[path] = session
        try:
            yield
        finally:
            with _SESSIONS_GUARD:
                if session is not None:
                    session.depth -= 1
                    if session.depth == 0:
                        _SESSIONS.pop(path, None)
                        os.close(session.fd)  # the flock goes with it

    def _begin_session(self, path: str) -> _Writing | None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:  # a folder we cannot write to: every write looks up, as without a session
            return None
        with self._writers_lock():  # one session begins at a time, and never during a write
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except BlockingIOError:
                alone = False
            fcntl.flock(fd, fcntl.LOCK_SH)  # only a beginning session ever asks for it exclusively
            generation = _bump(fd)
        return _Writing(fd, generation, alone)

    def _alone(self) -> bool:
        """Whether this process has been the collection's only writer since its session began (the writers'
        lock is held). Never on a server: no lock here sees a writer on another machine."""
        if not self.handle.backend.served_file():
            return False
        path = self._lock_path() + ".present"
        session = _SESSIONS.get(path)
        if session is None:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:
                return False
            try:
                _bump(fd)  # a writer without a session: sessions open elsewhere must look up from now on
            finally:
                os.close(fd)
            return False
        if session.alone and _generation(session.fd) != session.generation:
            session.alone = False  # another session began: it may store our rows from now on
        return session.alone

    def _stored_hashes(self, ids: list[str]) -> dict[str, str]:
        self.handle.load()
        level = STRONG if self.handle.backend.served_file() else EVENTUALLY
        rows = self.handle.call("query", self.handle.collection, filter=store_rows.in_filter(ids),
                          output_fields=["id", "content_hash"], consistency_level=level)  # fmt: skip
        return {str(row["id"]): row["content_hash"] for row in rows}

    def _lock_path(self) -> str:
        served = self.handle.backend.served_file()
        name = hashlib.sha256(f"{self.handle.uri}\0{self.handle.collection}".encode()).hexdigest()[:16]
        return (
            f"{served}.writers.lock" if served else os.path.join(tempfile.gettempdir(), f"mmrag-{name}.lock")
        )

    @contextmanager
    def _writers_lock(self) -> Iterator[None]:
        path = self._lock_path()
        try:
            handle = open(path, "a")  # noqa: SIM115 - held for the with block below
        except OSError:  # a folder we cannot write to: the write itself will say so
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def update_fields(self, changes: Mapping[str, Mapping[str, Any]]) -> int:
        """Change some fields of existing rows, keeping their vectors: ``{id: {field: value}}``.

        Milvus Lite 3.x and servers >= 2.6 take a partial upsert (only the changed fields travel). Older
        servers (2.3.5 answers "float vector field 'vector' is illegal") get the whole row: it is read
        back with its vector, changed, and upserted.

        A partial upsert of an id that is not stored would make Milvus refuse the whole batch ("vector field
        missing"), so the stored ids are looked up first and only those are sent.

        Returns:
            The number of rows updated (ids that are not stored are skipped).
        """
        if not changes:
            return 0
        columns = self._text_columns()
        if columns:  # the text follows the metadata it is made from
            changes = {key: _with_text(fields, columns) for key, fields in changes.items()}
        if self.handle.supports_partial_update():
            known = self.reads.existing_ids(changes)
            changes = {key: fields for key, fields in changes.items() if key in known}
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for key, fields in changes.items():  # one request carries one set of fields
                groups.setdefault(tuple(sorted(fields)), []).append({"id": key, **fields})
            for rows in groups.values():
                for batch in store_rows.byte_batches(rows, MAX_WRITE_BYTES):
                    self.handle.call("upsert", self.handle.collection, list(batch), partial_update=True)
            return len(changes)
        stored = self.reads.get(list(changes), output_fields=["vector", *CORE_FIELDS])
        return self.insert([{**row, **changes[row["id"]]} for row in stored])

    def delete(self, ids: Iterable[str]) -> int:
        """Delete rows by id; returns how many ids were asked for deletion."""
        count = 0
        for chunk in store_rows.chunks(list(ids), ID_CHUNK):
            self.handle.call("delete", self.handle.collection, filter=store_rows.in_filter(chunk))
            count += len(chunk)
        return count

    def flush(self) -> None:
        """Seal written rows into segments (durable on disk); their index may still be building."""
        self.handle.call("flush", self.handle.collection)

    def flush_and_load(self, index_timeout: float = 1800.0) -> None:
        """Seal new rows, build their index, and load the collection. Every ingest ends here.

        Searches before this are slow: Milvus Lite brute-forces unflushed rows in Python (many times slower
        at 100k rows; BENCHMARKS.md), and a flush of a loaded Lite collection builds the new segments' HNSW
        on a background thread while searches brute-force them. Flushing a released Lite collection and then
        loading it builds each index once, now. A server reports its progress, so we wait for it (up to
        ``index_timeout`` seconds, then go on with a warning).
        """
        self.handle.backend.seal(self.handle, index_timeout)
        self.handle.load()


def _with_text(fields: Mapping[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    if "meta" not in fields:
        return dict(fields)
    return {**fields, TEXT_FIELD: text_of(fields["meta"], columns)}


def _generation(fd: int) -> int:
    text = os.pread(fd, 32, 0).strip()
    return int(text) if text.isdigit() else 0


def _bump(fd: int) -> int:
    """Count one more session begun in the presence file (the writers' lock is held); the new count."""
    generation = _generation(fd) + 1
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(generation).encode(), 0)
    return generation
