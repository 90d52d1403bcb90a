"""The encoder interface. Every encoder preset returns an object with this shape."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mmrag_lab.images import ImageSource


@dataclass(frozen=True)
class EncoderInfo:
    """What made a set of vectors; stored with a collection so vector spaces never mix.

    Attributes:
        name: Preset name, e.g. ``visualized-bge-base``.
        dim: Embedding dimension.
        untrained: True when the weights are deterministic untrained ones (results are meaningless).
        weights: Where the weights came from (a path, ``untrained``, or a hub file).
        fingerprint: Short hash of the loaded parameters; equal fingerprints mean equal vector spaces.
    """

    name: str
    dim: int
    untrained: bool
    weights: str
    fingerprint: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "untrained": self.untrained,
            "weights": self.weights,
            "fingerprint": self.fingerprint,
        }


class Encoder(ABC):
    """Embeds images, composed (image + instruction) queries and texts into one normalised space.

    All ``encode_*`` methods return float32 arrays of shape ``(n, dim)`` with L2-normalised rows.
    Ingest pipelines may call :meth:`preprocess` in worker processes and :meth:`encode_pixels` on batches.
    """

    info: EncoderInfo
    image_size: int

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def dim(self) -> int:
        return self.info.dim

    @property
    def untrained(self) -> bool:
        return self.info.untrained

    @abstractmethod
    def preprocess(self, image: ImageSource) -> torch.Tensor:
        """Load (if a path) and transform one image into a ``(3, S, S)`` float tensor."""

    @abstractmethod
    def encode_pixels(self, pixels: torch.Tensor, instructions: Sequence[str] | None = None) -> np.ndarray:
        """Embed a batch of preprocessed images, optionally each with an instruction."""

    @abstractmethod
    def encode_images(self, images: Sequence[ImageSource], batch_size: int | None = None) -> np.ndarray:
        """Embed images alone (the corpus side)."""

    @abstractmethod
    def encode_queries(
        self, images: Sequence[ImageSource], instructions: Sequence[str], batch_size: int | None = None
    ) -> np.ndarray:
        """Embed composed queries: image ``i`` together with instruction ``i``."""

    @abstractmethod
    def encode_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed texts alone."""
