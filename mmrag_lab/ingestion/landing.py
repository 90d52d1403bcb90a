"""Vectors back from the device while the next batch runs: the encode loop never waits for a copy.

On CUDA, each batch's vectors are copied into a pinned host buffer without blocking, and an event marks
the copy's end. The runner launches batch ``n + 1`` before it lands batch ``n``, so the device always has
the next batch queued while the host turns vectors into rows. A landed batch's vectors are copied out of
the buffer (the writer may still hold them when the buffer is reused), and the batch's input pixels are
held until then, so that no stream reuses their memory while the model still reads them. On any other
device the vectors are already on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

SLOTS = 2  # host buffers: one being filled by the device while the other is read


@dataclass
class InFlight:
    """A launched batch: what it was for, and where and when its vectors arrive."""

    batch: Any
    count: int
    host: torch.Tensor
    done: torch.cuda.Event | None
    inputs: Any  # the input tensors, kept alive until the vectors have landed


class Landing:
    """Copies vectors of launched batches back, at most one batch behind the device."""

    def __init__(self) -> None:
        self._ring: list[torch.Tensor] = []
        self._turn = 0

    def launch(self, batch: Any, vectors: torch.Tensor, count: int, inputs: Any = None) -> InFlight:
        """Start bringing the first ``count`` rows of ``vectors`` (maybe still being computed) to the host."""
        if vectors.device.type != "cuda":
            return InFlight(batch, count, vectors[:count], None, None)
        host = self._buffer(vectors.shape, vectors.dtype)
        host[:count].copy_(vectors[:count], non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        return InFlight(batch, count, host, done, inputs)

    @staticmethod
    def land(flight: InFlight) -> np.ndarray:
        """The batch's vectors as an array of their own, once the copy has finished."""
        if flight.done is None:
            return flight.host.numpy()
        flight.done.synchronize()
        flight.inputs = None
        return flight.host[: flight.count].numpy().copy()

    def _buffer(self, shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
        slot = self._turn % SLOTS
        self._turn += 1
        if len(self._ring) <= slot or self._ring[slot].shape != shape or self._ring[slot].dtype != dtype:
            buffer = torch.empty(shape, dtype=dtype, pin_memory=True)
            self._ring[slot : slot + 1] = [buffer]
        return self._ring[slot]
