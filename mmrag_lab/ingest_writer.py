"""Writing rows on a background thread, so that encoding the next batch overlaps with the upsert RPC."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from mmrag_lab.store import Store

# Rows between flushes. Each upsert is durable once acknowledged (Milvus Lite appends it to its write-ahead
# log, a server to its message log); a periodic flush only bounds how much log a restart must replay.
FLUSH_EVERY = 20_000


class RowWriter:
    """Upserts lists of complete rows in order on one thread; an error is raised in the caller.

    Args:
        store: Where the rows go.
        on_written: Called with the number of rows after each acknowledged write.
        depth: Batches that may wait; the encoder blocks when the store falls this far behind.
        flush_every: Rows between flushes.
    """

    def __init__(
        self,
        store: Store,
        on_written: Callable[[int], None] = lambda n: None,
        depth: int = 4,
        flush_every: int = FLUSH_EVERY,
    ):
        self.store = store
        self.on_written = on_written
        self.flush_every = flush_every
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._since_flush = 0
        self._thread = threading.Thread(target=self._run, name="mmrag-row-writer", daemon=True)
        self._thread.start()

    def put(self, rows: list[dict[str, Any]]) -> None:
        """Queue rows for writing; raises the writer's error if an earlier write failed."""
        self._raise_if_failed()
        self._queue.put(rows)

    def close(self) -> None:
        """Wait for every queued row to be written, then raise any write error."""
        self._queue.put(None)
        self._thread.join()
        self._raise_if_failed()

    def _run(self) -> None:
        while (rows := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so that put() never blocks forever after a failure
            try:
                self.on_written(self.store.insert(rows))
                self._since_flush += len(rows)
                if self._since_flush >= self.flush_every:
                    self.store.flush()
                    self._since_flush = 0
            except BaseException as exc:  # handed to the caller's thread by _raise_if_failed
                self._error = exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
