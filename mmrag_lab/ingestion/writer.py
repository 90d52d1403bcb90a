"""Writing rows from a separate process, so that Milvus never competes with the encoder loop for the GIL.

pymilvus spends about 0.12 ms of Python per row building the request, and Milvus Lite, which serves
from a thread of whichever process opened it, about 0.17 ms more. In the encoding process that time
comes out of the loop that feeds the GPU. :class:`RowWriter` therefore starts
``python -m mmrag_lab.ingestion.writer``, which owns the store while ingest writes, and streams batches of
complete rows to it over a pipe (length-prefixed pickles). Each batch is one upsert there; the child
acknowledges it, and only acknowledged rows count as ingested.

When the parent dies, even by ``kill -9``, the child dies with it (Linux: ``PR_SET_PDEATHSIG``; elsewhere
at the end of its input), so a re-run never waits for an orphan to free a Milvus Lite file.
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from mmrag_lab.config import Config
from mmrag_lab.errors import MmragError, StoreError, StoreLockedError

# Rows between flushes. Each upsert is durable once acknowledged (Milvus Lite appends it to its write-ahead
# log, a server to its message log); a periodic flush only bounds how much log a restart must replay.
FLUSH_EVERY = 20_000
_FRAME = struct.Struct("<Q")


class RowWriter:
    """Upserts batches of complete rows in order, in a child process; errors are raised in the caller.

    Args:
        config: Where to write (URI, collection; the token is passed over the pipe, never in argv).
        on_written: Called with the number of rows after each acknowledged write.
        depth: Batches that may wait before :meth:`put` blocks.
        in_flight: Batches sent but not yet acknowledged (bounds memory and how far the progress bar's
            stored count trails).
        flush_every: Rows between flushes.
    """

    def __init__(
        self,
        config: Config,
        on_written: Callable[[int], None] = lambda n: None,
        depth: int = 4,
        in_flight: int = 2,
        flush_every: int = FLUSH_EVERY,
    ):
        self.on_written = on_written
        self._error: BaseException | None = None
        self._window = threading.Semaphore(in_flight)
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=depth)
        env = {**os.environ, "GRPC_VERBOSITY": os.environ.get("GRPC_VERBOSITY", "ERROR")}
        self._child = subprocess.Popen(
            [sys.executable, "-m", "mmrag_lab.ingestion.writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        options = {"uri": config.milvus_uri, "collection": config.collection, "flush_every": flush_every}
        _send(self._child.stdin, ("open", options | {"token": config.milvus_token}))
        self._sender = threading.Thread(target=self._send_loop, name="mmrag-writer-send", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name="mmrag-writer-acks", daemon=True)
        self._sender.start()
        self._reader.start()

    def put(self, rows: list[dict[str, Any]]) -> None:
        """Queue rows for writing; raises the writer's error if an earlier write failed."""
        self._raise_if_failed()
        self._queue.put(rows)

    def close(self) -> None:
        """Wait until every queued row is written and the child has closed the store; raise any error."""
        self._queue.put(None)
        self._sender.join()
        self._reader.join()
        self._child.wait()
        self._raise_if_failed()
        if self._child.returncode != 0:
            raise StoreError(f"The row writer process exited with status {self._child.returncode}.")

    def _send_loop(self) -> None:
        try:
            while (rows := self._queue.get()) is not None:
                self._window.acquire()
                if self._error is None:
                    _send(self._child.stdin, ("rows", rows))
            _send(self._child.stdin, ("close",))
        except OSError as exc:  # the child died; the reader has or will set the reason
            self._error = self._error or StoreError(f"The row writer process stopped ({exc}).")
        finally:
            self._child.stdin.close()

    def _read_loop(self) -> None:
        while (message := _receive(self._child.stdout)) is not None:
            if message[0] == "ack":
                self.on_written(message[1])
                self._window.release()
            elif message[0] == "error":
                kind, text = message[1], message[2]
                self._error = StoreLockedError(text) if kind == "StoreLockedError" else StoreError(text)
                self._drain()
        self._window.release(1_000_000)  # the child is gone: nothing will be acknowledged any more

    def _drain(self) -> None:
        # Unblock a put() waiting on a full queue (the sender skips rows once an error is set), but keep
        # close()'s end marker, or the sender would wait for it forever.
        closing = False
        while True:
            try:
                closing = self._queue.get_nowait() is None or closing
            except queue.Empty:
                break
        if closing:
            self._queue.put(None)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


def _send(stream: BinaryIO, message: tuple) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(payload)) + payload)
    stream.flush()


def _receive(stream: BinaryIO) -> tuple | None:
    header = stream.read(_FRAME.size)
    if len(header) < _FRAME.size:
        return None
    payload = stream.read(_FRAME.unpack(header)[0])
    return pickle.loads(payload) if payload is not None else None


def _die_with_parent() -> None:
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _serve(inbox: BinaryIO, outbox: BinaryIO) -> int:
    from mmrag_lab.store.collection import Store

    opening = _receive(inbox)
    if opening is None:
        return 1
    options = opening[1]
    config = Config.load(milvus_uri=options["uri"], collection=options["collection"])
    try:
        store = Store.open(config, token=options["token"])
    except MmragError as exc:
        _send(outbox, ("error", type(exc).__name__, str(exc)))
        return 1
    written = 0
    try:
        while (message := _receive(inbox)) is not None and message[0] == "rows":
            count = store.insert(message[1])
            _send(outbox, ("ack", count))
            written += count
            if written >= options["flush_every"]:
                store.flush()
                written = 0
    except MmragError as exc:
        _send(outbox, ("error", type(exc).__name__, str(exc)))
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    _die_with_parent()
    # The pipe carries frames only: anything a library prints goes to stderr instead.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.exit(_serve(sys.stdin.buffer, protocol_out))
