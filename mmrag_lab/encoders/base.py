"""The encoder contract. Every preset returns an :class:`Encoder`; nothing outside ``encoders/`` needs more.

A new model family implements :meth:`Encoder.encode_pixels` and :meth:`Encoder.encode_texts` and fills the
attributes below (identity, device, dtype, preprocessing, fusion, query kinds, text limits); ingestion,
retrieval and evaluation then work with it unchanged.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mmrag_lab.encoders.batches import progress
from mmrag_lab.encoders.compiled import eager_only
from mmrag_lab.encoders.preprocessing import Preprocessing
from mmrag_lab.errors import ConfigError
from mmrag_lab.images import ImageSource

QUERY_KINDS = ("composed", "image", "text")
FUSIONS = {
    "joint": "one transformer reads the image tokens and the instruction together (Visualized BGE)",
    "sum": "normalize(image_features + text_features), the sum of the unnormalised projections",
}


@dataclass(frozen=True)
class EncoderInfo:
    """What made a set of vectors; stored with a collection so vector spaces never mix.

    Attributes:
        name: Preset name, e.g. ``visualized-bge-base``.
        dim: Embedding dimension.
        untrained: True when the weights are deterministic untrained ones (results are meaningless).
        weights: Where the weights came from (a path, ``untrained``, or a hub file).
        fingerprint: Short hash of the loaded parameters; equal fingerprints mean equal vector spaces.
        metric: The similarity the vectors are made for (rows are L2-normalised, so cosine = inner product).
    """

    name: str
    dim: int
    untrained: bool
    weights: str
    fingerprint: str
    metric: str = "COSINE"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "untrained": self.untrained,
            "weights": self.weights,
            "fingerprint": self.fingerprint,
            "metric": self.metric,
        }


class Encoder(ABC):
    """Embeds images, composed (image + instruction) queries and texts into one normalised space.

    All ``encode_*`` methods return float32 arrays of shape ``(n, dim)`` with L2-normalised rows.
    Ingest pipelines run :attr:`preprocessing` in worker processes (or reproduce it on the GPU) and call
    :meth:`encode_pixels` on batches.

    Attributes:
        info: Identity: name, dim, metric, weights, fingerprint, untrained flag.
        device: Torch device the model runs on.
        dtype: Torch dtype of the model's parameters.
        preprocessing: The exact image → pixels steps (see :class:`Preprocessing`).
        fusion: How a composed query is formed, a key of :data:`FUSIONS`.
        query_kinds: Which of :data:`QUERY_KINDS` this encoder can embed.
        text_limit: Tokens (specials included) of a text query; longer texts are truncated explicitly.
        instruction_limit: Tokens of the instruction in a composed query; longer ones are truncated.
        batch_size: Default batch size of the ``encode_*`` methods.
    """

    info: EncoderInfo
    device: torch.device
    dtype: torch.dtype
    preprocessing: Preprocessing
    fusion: str
    query_kinds: frozenset[str] = frozenset(QUERY_KINDS)
    text_limit: int
    instruction_limit: int
    batch_size: int = 16

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def dim(self) -> int:
        return self.info.dim

    @property
    def untrained(self) -> bool:
        return self.info.untrained

    @property
    def image_size(self) -> int:
        return self.preprocessing.size

    def __repr__(self) -> str:
        flag = ", UNTRAINED" if self.untrained else ""
        return f"{type(self).__name__}({self.name}, dim={self.dim}, {self.device}, {self.dtype}{flag})"

    def describe(self) -> dict:
        """The contract as plain values, for listings and run folders."""
        return {
            **self.info.as_dict(),
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
            "fusion": self.fusion,
            "query_kinds": [k for k in QUERY_KINDS if k in self.query_kinds],
            "text_limit": self.text_limit,
            "instruction_limit": self.instruction_limit,
            "preprocessing": self.preprocessing.describe(),
        }

    def compiled(
        self, cache_dir: str | os.PathLike | None = None, mode: str = "default"
    ) -> AbstractContextManager[None]:
        """Inside the block, :meth:`encode_pixels` without instructions runs a ``torch.compile``'d model.

        ``mode`` is ``torch.compile``'s (:data:`~mmrag_lab.setting_values.COMPILE_MODES`).

        An encoder that can compile returns :meth:`CompiledForward.enabled
        <mmrag_lab.encoders.compiled.CompiledForward.enabled>` of its forward; this default runs eager and
        says so in one log line. Where compiling fails, the model runs eager and one log line says why.
        """
        return eager_only(self.name)

    def weights(self) -> torch.nn.Module | None:
        """The module whose parameters make the vectors, so that another process can load these very weights
        (the Ray ingest engine's actors); None for an encoder with none to share."""
        return None

    def preprocess(self, image: ImageSource) -> torch.Tensor:
        """Load (if a path) and transform one image into a ``(3, S, S)`` float tensor."""
        return self.preprocessing(image)

    @abstractmethod
    def encode_pixels(self, pixels: torch.Tensor, instructions: Sequence[str] | None = None) -> np.ndarray:
        """Embed a batch of preprocessed images, optionally each with an instruction (a composed query)."""

    def image_vectors(self, pixels: torch.Tensor) -> torch.Tensor:
        """:meth:`encode_pixels` without instructions, as a float32 tensor on :attr:`device`.

        The device may still be computing it: nothing here waits, so a caller can queue the next batch
        before copying this one back. This default waits (it goes through :meth:`encode_pixels`).
        """
        return torch.from_numpy(self.encode_pixels(pixels)).to(self.device)

    @abstractmethod
    def encode_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed texts alone."""

    def encode_images(self, images: Sequence[ImageSource], batch_size: int | None = None) -> np.ndarray:
        """Embed images alone (the corpus side)."""
        return self._batched(list(images), None, batch_size, "images")

    def encode_queries(
        self, images: Sequence[ImageSource], instructions: Sequence[str], batch_size: int | None = None
    ) -> np.ndarray:
        """Embed composed queries: image ``i`` together with instruction ``i``."""
        images, instructions = list(images), list(instructions)
        if len(images) != len(instructions):
            raise ConfigError(
                f"Got {len(images)} images but {len(instructions)} instructions; pass one each."
            )
        return self._batched(images, instructions, batch_size, "queries")

    def _batched(self, images: list, instructions: list | None, batch_size: int | None, what: str):
        size = batch_size or self.batch_size
        out = []
        with progress(len(images), size, what) as bar:
            for start in range(0, len(images), size):
                pixels = torch.stack([self.preprocess(image) for image in images[start : start + size]])
                texts = None if instructions is None else instructions[start : start + size]
                out.append(self.encode_pixels(pixels, texts))
                bar.update(len(pixels))
        return self.stack(out)

    def stack(self, parts: list[np.ndarray]) -> np.ndarray:
        """Concatenate batches into one contiguous float32 ``(n, dim)`` array."""
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts).astype(np.float32, copy=False))
