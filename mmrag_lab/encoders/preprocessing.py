"""How an encoder turns an image into pixels, described exactly enough to reproduce it anywhere.

A :class:`Preprocessing` is part of the encoder contract. The CPU ingest workers run its uint8 part
(:meth:`Preprocessing.to_uint8`), the device finishes it (:meth:`Preprocessing.finish`), and the GPU decode
path reads its fields to reproduce it, or routes the encoder to the CPU path when it cannot
(:meth:`Preprocessing.gpu_reproducible`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from PIL import Image

from mmrag_lab.errors import ConfigError
from mmrag_lab.images import ImageSource, decode_image, load_image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RESIZES = ("shorter-side", "square")
CROPS = ("center-round", "center-floor", "none")
_PIL_FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


@dataclass(frozen=True)
class Preprocessing:
    """An image → ``(3, size, size)`` float tensor, step by step.

    Attributes:
        size: Side of the square the model reads.
        mean: Per-channel mean subtracted after scaling to [0, 1].
        std: Per-channel standard deviation divided by after that.
        resize: ``shorter-side`` (the shorter side becomes ``size``, the longer ``int(size * long / short)``)
            or ``square`` (both sides become ``size``, aspect ratio not kept).
        interpolation: Pillow filter of the resize: ``bicubic`` or ``bilinear``.
        crop: ``center-round`` (torchvision: offset ``int(round((d - size) / 2))``), ``center-floor``
            (transformers' image processors: ``(d - size) // 2``), or ``none`` (after a ``square`` resize).
        exif_transpose: Turn a photo upright by its EXIF orientation before anything else.
    """

    size: int
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    resize: str = "shorter-side"
    interpolation: str = "bicubic"
    crop: str = "center-round"
    exif_transpose: bool = True

    def __post_init__(self) -> None:
        if self.resize not in RESIZES or self.crop not in CROPS or self.interpolation not in _PIL_FILTERS:
            raise ConfigError(
                f"Unsupported preprocessing {self}: resize must be one of {RESIZES}, crop one of {CROPS}, "
                f"interpolation one of {sorted(_PIL_FILTERS)}."
            )

    def describe(self) -> dict[str, Any]:
        """The fields as plain values, for reports and the ``mmrag encoders`` listing."""
        return {
            "size": self.size,
            "resize": self.resize,
            "interpolation": self.interpolation,
            "crop": self.crop,
            "mean": list(self.mean),
            "std": list(self.std),
            "exif_transpose": self.exif_transpose,
        }

    def gpu_reproducible(self) -> bool:
        """True when the GPU decode path reproduces these steps exactly (Pillow bicubic, shorter side)."""
        return self.resize == "shorter-side" and self.interpolation == "bicubic" and self.crop != "none"

    def load(
        self, source: ImageSource | bytes, draft: int | None = None, name: object = "<bytes>"
    ) -> Image.Image:
        """Open a file, bytes or PIL image as 8-bit RGB, upright only when :attr:`exif_transpose` says so."""
        if isinstance(source, bytes):
            return decode_image(source, name=name, draft=draft, upright=self.exif_transpose)
        return load_image(source, draft=draft, upright=self.exif_transpose)

    def geometry(self, width: int, height: int) -> tuple[int, int, int, int]:
        """``(resized_w, resized_h, left, top)`` for an image of ``width`` x ``height``."""
        if self.resize == "square":
            return self.size, self.size, 0, 0
        short, long = min(width, height), max(width, height)
        other = int(self.size * long / short)
        out_w, out_h = (self.size, other) if width <= height else (other, self.size)
        if self.crop == "center-floor":
            return out_w, out_h, (out_w - self.size) // 2, (out_h - self.size) // 2
        return out_w, out_h, int(round((out_w - self.size) / 2.0)), int(round((out_h - self.size) / 2.0))

    def to_uint8(self, image: Image.Image) -> torch.Tensor:
        """Resize and crop an RGB picture: a uint8 ``(3, size, size)`` tensor (what CPU workers send)."""
        out_w, out_h, left, top = self.geometry(*image.size)
        if (out_w, out_h) != image.size:
            image = image.resize((out_w, out_h), _PIL_FILTERS[self.interpolation])
        if (out_w, out_h) != (self.size, self.size):
            image = image.crop((left, top, left + self.size, top + self.size))
        data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        return data.view(self.size, self.size, 3).permute(2, 0, 1).contiguous()

    def finish(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, 3, S, S)`` → normalised float32, on whatever device ``pixels`` lives."""
        mean, std = _stats(self.mean, self.std, str(pixels.device))
        return pixels.float().div_(255).sub_(mean).div_(std)

    def __call__(self, source: ImageSource | bytes) -> torch.Tensor:
        """The whole CPU preprocessing of one image: a float ``(3, size, size)`` tensor."""
        return self.finish(self.to_uint8(self.load(source)).unsqueeze(0))[0]


@lru_cache(maxsize=16)
def _stats(mean: tuple, std: tuple, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as (1, 3, 1, 1) tensors on ``device``, made once: a copy per batch would wait for it."""
    as_tensor = lambda values: torch.tensor(values, dtype=torch.float32, device=device).view(1, -1, 1, 1)  # noqa: E731
    return as_tensor(mean), as_tensor(std)
