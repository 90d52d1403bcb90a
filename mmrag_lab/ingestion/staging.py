"""Full batches on the encoder's device, so that a compiled model always sees the same shape.

For a compiled model, a batch with fewer images than the batch size (the last one, or one that lost bad
files) is padded with black images; the runner keeps the vectors of the real ones only, so padding never
becomes a row. An eager model gets the batch as it is (padding would only cost time, on a CPU a lot of it). Pixels
from the CPU mapper are copied into a small ring of pinned host buffers, reused from batch to batch, and
from there to the device without blocking.
"""

from __future__ import annotations

import torch

SLOTS = 2  # pinned buffers: one being copied to the device while the next is filled


class Staging:
    """Hands over uint8 ``(n, 3, S, S)`` pixels as ``(batch_size, 3, S, S)`` on ``device``.

    Args:
        batch_size: The one batch shape the encoder sees.
        size: Side ``S`` of the pixels.
        device: The encoder's device.
        pad: Pad every batch to ``batch_size`` (for a compiled model).
    """

    def __init__(self, batch_size: int, size: int, device: torch.device, pad: bool = True):
        self.batch_size, self.shape, self.device = batch_size, (batch_size, 3, size, size), device
        self.pad = pad
        self._ring: list[tuple[torch.Tensor, torch.cuda.Event]] = []
        self._turn = 0

    def to_device(self, pixels: torch.Tensor) -> torch.Tensor:
        """``pixels`` padded to the full batch, on the device (the copy may still be in flight)."""
        count = len(pixels)
        if count > self.batch_size:
            raise ValueError(f"a batch of {count} images is larger than the batch size {self.batch_size}")
        if pixels.device.type == "cpu" and self.device.type == "cuda":
            return self._through_pinned(pixels)
        if count == self.batch_size or not self.pad:
            return pixels.to(self.device, non_blocking=True)
        padded = torch.zeros(self.shape, dtype=pixels.dtype, device=pixels.device)
        padded[:count] = pixels
        return padded.to(self.device, non_blocking=True)

    def _through_pinned(self, pixels: torch.Tensor) -> torch.Tensor:
        if len(self._ring) < SLOTS:
            self._ring.append(
                (torch.empty(self.shape, dtype=torch.uint8, pin_memory=True), torch.cuda.Event())
            )
        buffer, copied = self._ring[self._turn % len(self._ring)]
        self._turn += 1
        copied.synchronize()  # the last copy out of this buffer has finished (at once if never recorded)
        buffer[: len(pixels)].copy_(pixels)
        buffer[len(pixels) :].zero_()
        out = (buffer if self.pad else buffer[: len(pixels)]).to(self.device, non_blocking=True)
        copied.record()
        return out
