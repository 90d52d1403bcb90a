"""The CPU mapper: decoding and preprocessing in worker processes, so that the encoder does not wait.

A torch :class:`~torch.utils.data.DataLoader` runs :class:`PrepareDataset` in ``workers`` processes. Each
item is read by :func:`~mmrag_lab.ingestion.reader.read_checked` (and hashed, when its plan did not), decoded to RGB and resized and cropped by
the encoder's :class:`~mmrag_lab.encoders.preprocessing.Preprocessing`. A bad file becomes an error entry
in the batch; it never stops the batch.

The workers hand over uint8 pixels (a quarter of the bytes of floats, through shared memory and over PCIe);
the runner copies them into a pinned buffer of the full batch and :meth:`Preprocessing.finish` normalises
them where the model runs, with the same floats as the whole preprocessing on the CPU.
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from mmrag_lab.encoders.preprocessing import Preprocessing
from mmrag_lab.errors import ImageLoadError
from mmrag_lab.images import image_size
from mmrag_lab.ingestion.mapper import PreparedBatch
from mmrag_lab.ingestion.reader import Task, read_checked, settle

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def default_workers(on_gpu: bool) -> int:
    """Decode processes: on a GPU all cores but two; on a CPU half the cores (the encoder needs the rest)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(32, cores - 2)) if on_gpu else max(1, cores // 2)


class CpuMapper:
    """Decodes on ``workers`` processes (0: inline); see :class:`PrepareDataset` for ``draft``."""

    def __init__(self, preprocessing: Preprocessing, workers: int, draft: int | None = None):
        self.preprocessing, self.workers, self.draft = preprocessing, workers, draft

    def batches(self, tasks: list[Task], batch_size: int) -> Iterator[PreparedBatch]:
        """The loader's iterator: its worker processes are forked here."""
        dataset = PrepareDataset(tasks, self.preprocessing, self.draft)
        return iter(make_loader(dataset, batch_size, self.workers))


class PrepareDataset(Dataset):
    """Reads, verifies, decodes and transforms one task per item.

    Args:
        tasks: The images to prepare.
        preprocessing: The encoder's preprocessing; workers run it up to uint8 pixels.
        draft: If set, JPEGs are decoded at a reduced scale that keeps both sides at least this many
            pixels: about twice as fast, with pixels slightly different from a full decode.
    """

    def __init__(self, tasks: Sequence[Task], preprocessing: Preprocessing, draft: int | None = None):
        self.tasks = list(tasks)
        self.preprocessing = preprocessing
        self.draft = draft

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index: int) -> dict[str, Any]:
        task = self.tasks[index]
        try:
            data = read_checked(task)
            image = self.preprocessing.load(data, draft=self.draft, name=task.file.display)
            size = image_size(data) if self.draft else image.size
            pixels = self.preprocessing.to_uint8(image)
        except ImageLoadError as exc:
            return {"index": index, "error": exc.reason}
        except Exception as exc:  # a transform failing on one odd image must not stop the batch
            return {"index": index, "error": f"preprocessing failed ({type(exc).__name__}: {exc})"}
        return {
            "index": index,
            "pixels": pixels,
            "size": size,
            "id": settle(task, data).id,
            "bytes": len(data),
        }


def make_loader(
    dataset: PrepareDataset, batch_size: int, workers: int, pin_memory: bool = False
) -> DataLoader:
    """A loader yielding :class:`PreparedBatch` objects, in order, prepared by ``workers`` processes."""
    options: dict[str, Any] = {}
    if workers > 0:
        # fork shares the already-built transform with the workers instead of pickling it
        methods = multiprocessing.get_all_start_methods()
        options["multiprocessing_context"] = "fork" if "fork" in methods else None
        init = functools.partial(_init_worker, os.getpid())
        options.update(prefetch_factor=4, persistent_workers=False, worker_init_fn=init)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_Collate(dataset.tasks),
        pin_memory=pin_memory,
        **options,
    )


class _Collate:
    def __init__(self, tasks: list[Task]):
        self.tasks = tasks

    def __call__(self, items: list[dict[str, Any]]) -> PreparedBatch:
        good = [item for item in items if "pixels" in item]
        return PreparedBatch(
            tasks=[_with_id(self.tasks[item["index"]], item["id"], item["bytes"]) for item in good],
            pixels=torch.stack([item["pixels"] for item in good]) if good else None,
            sizes=[tuple(item["size"]) for item in good],
            failed=[(self.tasks[item["index"]], item["error"]) for item in items if "error" in item],
        )


def _with_id(task: Task, digest: str, size: int) -> Task:
    return task if task.id is not None else task.hashed(digest, size)  # hashed by the worker that read it


def _init_worker(parent: int, _worker_id: int) -> None:
    torch.set_num_threads(1)
    _die_with(parent)
    _close_inherited_lite_locks()


def _die_with(parent: int) -> None:
    """Have Linux SIGKILL this worker the moment its parent dies (``PR_SET_PDEATHSIG``).

    A worker orphaned by a killed ingest would otherwise run on until torch's watchdog notices (seconds),
    and a write to the dead parent's pipe would print a ``ConnectionResetError`` traceback into the
    terminal. SIGKILL ends it silently. Elsewhere the watchdog alone ends it.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


def _close_inherited_lite_locks() -> None:
    """Drop the forked copy of Milvus Lite's lock descriptor.

    An flock lasts while any descriptor of it is open. A worker that outlives a killed parent by a few
    seconds would otherwise keep the file locked, and the re-run that should resume would be refused.
    """
    fd_dir = "/proc/self/fd"
    if not os.path.isdir(fd_dir):
        return
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if os.path.basename(target) == "LOCK" and os.path.dirname(target).endswith(".db"):
            try:
                os.close(int(name))
            except OSError:
                pass
