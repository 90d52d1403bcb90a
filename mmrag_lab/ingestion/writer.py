"""The writer role of the ingest runner: vectors → complete rows, upserted on a background thread.

:func:`make_rows` turns encoded tasks into one row per name their bytes have; :func:`failures`
lists every name of a bad file with the reason. :class:`RowWriter` writes, so that the encoder loop never
waits for Milvus.

Each batch of complete rows is one upsert (all-or-nothing), made by a thread of this process through the
process's long-lived client. Only acknowledged rows count as ingested. Milvus Lite does its own share of the
work in its server process (see :mod:`mmrag_lab.store.lite_server`), so the encoder's process spends only
pymilvus' request building on writes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from mmrag_lab.errors import MmragError, StoreFailedError
from mmrag_lab.ingestion.plan import partial_row
from mmrag_lab.ingestion.reader import Task
from mmrag_lab.ingestion.sidecar import Sidecar
from mmrag_lab.store.vector_store import Store

# Rows between flushes. Each upsert is durable once acknowledged (Milvus Lite appends it to its write-ahead
# log, a server to its message log); a periodic flush only bounds how much log a restart must replay.
FLUSH_EVERY = 20_000


class RowWriter:
    """Upserts batches of complete rows in order, on a thread; errors are raised in the caller.

    Args:
        store: Where to write: the ingest's open store (the caller closes it).
        on_written: Called with the number of rows after each acknowledged write.
        depth: Batches that may wait before :meth:`put` blocks (bounds memory).
        flush_every: Rows between flushes.

    ``already`` collects the ids of written rows that another process had stored with the same bytes.
    """

    def __init__(
        self,
        store: Store,
        on_written: Callable[[int], None] = lambda n: None,
        depth: int = 4,
        flush_every: int = FLUSH_EVERY,
    ):
        self.on_written = on_written
        self.flush_every = flush_every
        self.already: set[str] = set()
        self._error: BaseException | None = None
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=depth)
        self._store = store
        self._thread = threading.Thread(target=self._run, name="mmrag-writer", daemon=True)
        self._thread.start()

    def put(self, rows: list[dict[str, Any]]) -> None:
        """Queue rows for writing; raises the writer's error if an earlier write failed."""
        self._raise_if_failed()
        self._queue.put(rows)

    def close(self) -> None:
        """Wait until every queued row is written; raise any error."""
        self._queue.put(None)
        self._thread.join()
        self._raise_if_failed()

    def _run(self) -> None:
        since_flush = 0
        while (rows := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so that put() never blocks after a failure
            try:
                self.already |= self._store.insert_new(rows)
                self.on_written(len(rows))
                since_flush += len(rows)
                if since_flush >= self.flush_every:
                    self._store.flush()
                    since_flush = 0
            except MmragError as exc:
                self._error = exc
            except Exception as exc:  # surfaced to the caller, never lost on this thread
                self._error = StoreFailedError(f"Writing rows failed: {type(exc).__name__}: {exc}")

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


def failures(failed: list[tuple[Task, str]], sidecar: Sidecar) -> list[dict[str, str]]:
    """Every name of each bad file, with the reason: ``{path, reason}``."""
    return [
        {"path": partial["path"], "reason": reason}
        for task, reason in failed
        for partial in _partials(task, sidecar)
    ]


def make_rows(tasks: list[Task], vectors, sizes: list[tuple[int, int]], sidecar: Sidecar) -> list[dict]:
    """Complete rows for encoded tasks: one per path that holds the task's bytes."""
    return [
        _row(partial, v, s) for t, v, s in zip(tasks, vectors, sizes) for partial in _partials(t, sidecar)
    ]


def _row(partial: dict, vector, size: tuple[int, int]) -> dict:
    return {**partial, "vector": vector, "width": int(size[0]), "height": int(size[1])}


def _partials(task: Task, sidecar: Sidecar) -> tuple[dict, ...]:
    if task.rows:
        return task.rows
    # A task made without a plan (benchmarks): one row, keyed under the nameless root.
    return (partial_row("", task.file, task.id, sidecar.lookup(task.file.rel)),)
