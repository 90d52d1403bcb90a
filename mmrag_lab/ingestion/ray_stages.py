"""The stages of the Ray engine: read and decode (CPU tasks), encode (GPU or CPU actors), write (writer actors).

Each stage is a Ray Data ``map_batches`` callable over batches of plain columns (numpy arrays):

- :func:`read_decode`: ``task`` (a pickled :class:`~mmrag_lab.ingestion.reader.Task`) → the task settled by
  its bytes, and either uint8 ``pixels`` (the CPU mapper's own :class:`~.cpu_mapper.PrepareDataset`) or the
  file's bytes in ``data`` for the encoder to decode on its GPU (:func:`~.gpu_decode.prepare_batch`); a bad
  file gets its reason in ``error`` and travels on.
- :class:`EncodeActor`: builds the encoder once per actor from the job's config, and embeds the good images
  in full batches, like the in-process runner (:class:`~.staging.Staging`); the twins of a first ingest are
  kept out of the model through the :class:`RunLedger`.
- :class:`WriteActor`: opens its own store client and upserts complete rows, one all-or-nothing upsert per
  batch; its output is one summary per batch, which the driver folds into the report.

A stage that Ray retries after a worker dies runs its batch again: the upserts are keyed, so the rows come
out the same, and the :class:`RunLedger` keeps a retried write from counting this run's own rows as another
process's.
"""

from __future__ import annotations

import pickle
import time
from contextlib import ExitStack
from typing import Any

import numpy as np
import torch

from mmrag_lab.config import Config
from mmrag_lab.encoders.preprocessing import Preprocessing
from mmrag_lab.errors import ConfigError, MmragError, StoreFailedError
from mmrag_lab.images import image_size
from mmrag_lab.ingestion.cpu_mapper import PrepareDataset
from mmrag_lab.ingestion.reader import read_settled
from mmrag_lab.ingestion.staging import Staging
from mmrag_lab.ingestion.writer import make_rows
from mmrag_lab.store.vector_store import Store

Batch = dict[str, np.ndarray]
LOADED_AT = time.time()  # when this module was imported: in a worker, about when its process had started


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def read_decode(batch: Batch, preprocessing: Preprocessing, draft: int | None, gpu_decode: bool) -> Batch:
    """Read (and hash, when the plan did not) each task's file; decode it here unless ``gpu_decode``."""
    tasks = [pickle.loads(blob) for blob in batch["task"]]
    size = preprocessing.size
    count = len(tasks)
    pixels = np.zeros((count, 3, size, size) if not gpu_decode else (count, 0), dtype=np.uint8)
    datas, errors, widths, heights = [b""] * count, [""] * count, [0] * count, [0] * count
    if gpu_decode:
        for i, task in enumerate(tasks):
            tasks[i], data, reason = read_settled(task)
            datas[i], errors[i] = data or b"", reason or ""
    else:
        dataset = PrepareDataset(tasks, preprocessing, draft)
        for i in range(count):
            item = dataset[i]
            if "error" in item:
                errors[i] = item["error"]
                continue
            pixels[i] = item["pixels"].numpy()
            widths[i], heights[i] = item["size"]
            if tasks[i].id is None:
                tasks[i] = tasks[i].hashed(item["id"], item["bytes"])
    return {
        "task": _objects([pickle.dumps(task) for task in tasks]),
        "pixels": pixels,
        "data": _objects(datas),
        "error": np.array(errors, dtype=object),
        "width": np.array(widths, dtype=np.int64),
        "height": np.array(heights, dtype=np.int64),
    }


class RunLedger:
    """One per job (a Ray actor): the first row of each content hash met (twins), and every id written.

    Both answers are idempotent, so a batch that Ray runs again gets the answers its first run got.
    """

    def __init__(self) -> None:
        self.first: dict[str, tuple[str, str]] = {}
        self.written: set[str] = set()
        self.startups: list[dict[str, float]] = []

    def started(self, timings: dict[str, float]) -> None:
        """Record an encoder actor's start-up (seconds since the job began, see :class:`EncodeActor`)."""
        self.startups.append(timings)

    def startup_times(self) -> list[dict[str, float]]:
        """The start-ups recorded so far, one per encoder actor (a restarted actor adds one)."""
        return list(self.startups)

    def claim(self, entries: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
        """For each ``(hash, row id, display path)``: the first row id and path of that hash in this run."""
        return [self.first.setdefault(digest, (key, path)) for digest, key, path in entries]

    def attempted(self, ids: list[str]) -> list[str]:
        """The ids among ``ids`` that this run already wrote (or began to); all are recorded."""
        seen = [key for key in ids if key in self.written]
        self.written.update(ids)
        return seen


def model_state(encoder) -> dict[str, torch.Tensor] | None:
    """The encoder's parameters and buffers on the CPU, for the actors to load; None if it has no model."""
    model = encoder.weights()
    if model is None:
        return None
    return {key: value.detach().cpu() for key, value in model.state_dict().items()}


class EncodeActor:
    """The model, once per actor, on the GPU Ray gave it (or the CPU); embeds a batch of good images.

    With ``state`` (the driver's model state, through the object store), the actor loads exactly the job's
    weights, wherever it runs. Without it, it builds them from the config and checks their fingerprint.
    With ``log`` (the job's :class:`RunLedger`) and ``began`` (the job's start, ``time.time()``), it records
    when it got to each step of its start-up, up to its first batch done: where a job's first seconds go.
    """

    def __init__(
        self, config: Config, dtype: str, compiled: bool, fingerprint: str, ledger=None, state=None,
        log=None, began: float | None = None,
    ):  # fmt: skip
        self.log, self.began = log, began
        self.timings = {"imported": LOADED_AT, "constructing": time.time()}
        from mmrag_lab.encoders import load_encoder

        device = "cuda" if torch.cuda.is_available() else "cpu"
        overrides = {"device": device, **({"weights": "untrained"} if state is not None else {})}
        self.encoder = load_encoder(config=config.with_overrides(**overrides), dtype=dtype)
        self.timings["built"] = time.time()
        if state is not None and self.encoder.weights() is not None:
            import ray

            self.encoder.weights().load_state_dict(
                ray.get(state) if isinstance(state, ray.ObjectRef) else state
            )
        elif self.encoder.info.fingerprint != fingerprint:
            raise ConfigError(
                f"A Ray worker built {config.encoder} with other weights (fingerprint "
                f"{self.encoder.info.fingerprint}, the job's is {fingerprint}): every node needs the same "
                "weights (MMRAG_WEIGHTS, --weights) at the same path."
            )
        self.timings["model_ready"] = time.time()
        self.batch_size, self.ledger, self.stack = config.batch_size, ledger, ExitStack()
        encoder = self.encoder
        self.staging = Staging(self.batch_size, encoder.image_size, encoder.device, pad=compiled)
        if compiled:
            self.stack.enter_context(encoder.compiled(config.cache_dir, config.compile_mode))

    def _record_startup(self) -> None:
        """Once, after the first batch: the start-up's steps, in seconds since the job began (an actor
        that gets no batch records none)."""
        if self.log is None or self.began is None or not self.timings:
            return
        self.timings["first_batch_done"] = time.time()
        import ray  # recorded before the batch goes on, so the driver reads it after the job

        ray.get(self.log.started.remote({key: round(at - self.began, 2) for key, at in self.timings.items()}))
        self.timings = {}

    def __call__(self, batch: Batch) -> Batch:
        if self.timings:
            self.timings.setdefault("first_batch_in", time.time())
        out = self._encode(batch)
        self._record_startup()
        return out

    def _encode(self, batch: Batch) -> Batch:
        tasks = [pickle.loads(blob) for blob in batch["task"]]
        count = len(tasks)
        errors, widths, heights = list(batch["error"]), list(batch["width"]), list(batch["height"])
        pixels = self._pixels(batch, tasks, errors, widths, heights)
        twin_of = self._twins(tasks, errors)
        keep = [i for i in range(count) if not errors[i] and not twin_of[i][0]]
        vectors = np.zeros((count, self.encoder.info.dim), dtype=np.float32)
        for start in range(0, len(keep), self.batch_size):
            part = keep[start : start + self.batch_size]
            chunk = pixels[part] if isinstance(pixels, torch.Tensor) else torch.from_numpy(pixels[part])
            on_device = self.staging.to_device(chunk)
            out = self.encoder.image_vectors(self.encoder.preprocessing.finish(on_device))
            vectors[part] = out[: len(part)].float().cpu().numpy()
        return {
            "task": _objects([pickle.dumps(task) for task in tasks]),
            "vector": vectors,
            "error": np.array(errors, dtype=object),
            "width": np.array(widths, dtype=np.int64),
            "height": np.array(heights, dtype=np.int64),
            "twin_of": np.array([first for first, _ in twin_of], dtype=object),
            "twin_path": np.array([path for _, path in twin_of], dtype=object),
        }

    def _pixels(self, batch: Batch, tasks: list, errors: list, widths: list, heights: list):
        """The batch's uint8 pixels: decoded on the CPU already, or here on the GPU from ``data``."""
        if batch["pixels"].ndim == 4:
            return batch["pixels"]
        from mmrag_lab.ingestion.gpu_decode import prepare_batch

        good = [i for i in range(len(tasks)) if not errors[i]]
        prep, device = self.encoder.preprocessing, self.encoder.device
        if not prep.gpu_reproducible():
            raise ConfigError(f"GPU decoding cannot reproduce {self.encoder.name}'s preprocessing.")
        datas = [batch["data"][i] for i in good]
        prepared = prepare_batch(datas, prep, device)
        size = prep.size
        pixels = torch.zeros((len(tasks), 3, size, size), dtype=torch.uint8, device=device)
        for j, index in enumerate(prepared.ok):
            i = good[index]
            pixels[i] = prepared.pixels[j]
            widths[i], heights[i] = prepared.sizes.get(index) or image_size(datas[index])
        for index, reason in prepared.errors.items():
            errors[good[index]] = reason
        return pixels

    def _twins(self, tasks: list, errors: list) -> list[tuple[str, str]]:
        """For each image: ("", "") or the row id and path of the first image of this run with its bytes."""
        none = [("", "")] * len(tasks)
        if self.ledger is None:
            return none
        good = [i for i, task in enumerate(tasks) if not errors[i] and task.rows]
        entries = [(tasks[i].id, tasks[i].rows[0]["id"], tasks[i].file.display) for i in good]
        if not entries:
            return none
        import ray

        firsts = ray.get(self.ledger.claim.remote(entries))
        out = list(none)
        for i, (key, path), entry in zip(good, firsts, entries):
            if key != entry[1]:
                out[i] = (key, path)
        return out


class WriteActor:
    """One store client per actor; each batch's complete rows in one keyed upsert, then its summary."""

    def __init__(self, config: Config, sidecar, ledger):
        self.store = Store.open(config)
        self.sidecar, self.ledger = sidecar, ledger

    def __call__(self, batch: Batch) -> Batch:
        import ray

        tasks = [pickle.loads(blob) for blob in batch["task"]]
        errors, twins = batch["error"], batch["twin_of"]
        good = [i for i in range(len(tasks)) if not errors[i] and not twins[i]]
        rows = make_rows(
            [tasks[i] for i in good],
            batch["vector"][good],
            [(batch["width"][i], batch["height"][i]) for i in good],
            self.sidecar,
        )
        ours: set[str] = set()
        if rows:
            ours = set(ray.get(self.ledger.attempted.remote([str(row["id"]) for row in rows])))
            try:
                already = self.store.insert_new(rows) - ours
            except MmragError:
                raise
            except Exception as exc:
                raise StoreFailedError(f"Writing rows failed: {type(exc).__name__}: {exc}") from None
        else:
            already = set()
        summary: dict[str, Any] = {
            "done": len(tasks),
            "encoded": len(good),
            "written": len(rows),
            "already": sorted(already),
            "failed": [(tasks[i], str(errors[i])) for i in range(len(tasks)) if errors[i]],
            "twins": [
                (tasks[i], str(twins[i]), str(batch["twin_path"][i]))
                for i in range(len(tasks))
                if twins[i] and not errors[i]
            ],
        }
        return {"summary": _objects([pickle.dumps(summary)])}
