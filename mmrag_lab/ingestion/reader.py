"""The reader of the ingest runner: files → bytes, each checked against the content hash it was planned under.

A file rewritten between the plan and the read fails with a reason instead of being stored with the hash of
bytes it no longer holds. The plan hashed every file once and took a
:class:`~mmrag_lab.ingestion.scan.FileStamp` as it did; a read whose file still has that stamp (and was last
changed well before the hash) trusts the plan's hash, any other read hashes its bytes again (see
:meth:`FileStamp.vouches_for`).

A first ingest into an empty collection has nothing to compare, so its plan hashes nothing: its tasks have
no hash yet (``Task.id is None``), and the bytes are hashed as they are read (:func:`settle`), once.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mmrag_lab.errors import ImageLoadError
from mmrag_lab.ingestion.scan import FileStamp, ImageFile, content_id

READ_THREADS = 8
READ_AHEAD = 4  # batches read ahead of the one being mapped: enough to ride out jitter, bounded in memory


@dataclass(frozen=True)
class Task:
    """One image to encode: the file, the content hash it was planned under, and the rows it fills.

    ``rows`` are complete but for ``vector``, ``width`` and ``height``: one per file name that holds
    these bytes (identical files are encoded once and stored once per name). ``stamp`` is the file's
    stamp when the plan hashed it (None: the read hashes the bytes to check them). ``id`` None: the plan
    did not hash the file, and its rows' ``content_hash`` is filled from the bytes read (:func:`settle`).
    """

    file: ImageFile
    id: str | None
    rows: tuple[dict[str, Any], ...] = ()
    stamp: FileStamp | None = None

    def hashed(self, digest: str, size: int) -> Task:
        """This task with the hash and size of the bytes read for it, in itself and in every row."""
        rows = tuple({**row, "content_hash": digest, "file_size": size} for row in self.rows)
        return Task(self.file, digest, rows, self.stamp)


def settle(task: Task, data: bytes) -> Task:
    """``task`` with the hash of ``data``, the bytes read for it, when its plan did not hash it."""
    return task if task.id is not None else task.hashed(content_id(data), len(data))


def read_checked(task: Task) -> bytes:
    """The bytes of ``task``'s file, if they are still the ones planned.

    Raises:
        ImageLoadError: The file is gone, unreadable, or changed since it was hashed. A task without a
            hash is never "changed": its hash is taken from these bytes (:func:`settle`).
    """
    try:
        with open(task.file.path, "rb") as handle:
            stamp = FileStamp.of(os.fstat(handle.fileno()))
            data = handle.read()
    except FileNotFoundError:
        raise ImageLoadError(task.file.display, "file disappeared after the folder was scanned") from None
    except OSError as exc:
        raise ImageLoadError(task.file.display, f"cannot read file ({exc.strerror or exc})") from None
    if task.id is None:
        return data
    trusted = task.stamp is not None and task.stamp.vouches_for(stamp, len(data))
    if not trusted and content_id(data) != task.id:
        raise ImageLoadError(task.file.display, "the file changed while ingesting; run ingest again")
    return data


def read_one(task: Task) -> tuple[bytes | None, str | None]:
    """:func:`read_checked` as ``(bytes, None)`` or ``(None, reason)``."""
    try:
        return read_checked(task), None
    except ImageLoadError as exc:
        return None, exc.reason


def read_settled(task: Task) -> tuple[Task, bytes | None, str | None]:
    """:func:`read_one`, with the task :func:`settle` d when its bytes were read (hashed on this thread)."""
    data, reason = read_one(task)
    return (task if data is None else settle(task, data)), data, reason


def read_batches(
    tasks: list[Task], batch_size: int, threads: int = READ_THREADS
) -> Iterator[tuple[list[Task], list[tuple[bytes | None, str | None]]]]:
    """Yield ``(chunk, reads)`` per batch of ``tasks``, in order; files are read ahead on ``threads``.

    The chunk's tasks are settled (:func:`settle`): a task read without a hash comes back with one.
    """
    with ThreadPoolExecutor(threads, thread_name_prefix="mmrag-read") as pool:
        pending: deque = deque()
        starts = iter(range(0, len(tasks), batch_size))

        def submit() -> None:
            start = next(starts, None)
            if start is not None:
                chunk = tasks[start : start + batch_size]
                pending.append([pool.submit(read_settled, task) for task in chunk])

        for _ in range(READ_AHEAD):
            submit()
        while pending:
            futures = pending.popleft()
            submit()
            reads = [future.result() for future in futures]
            yield [task for task, _, _ in reads], [(data, reason) for _, data, reason in reads]
