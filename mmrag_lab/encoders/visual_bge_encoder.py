"""The :class:`Encoder` implementation around :class:`VisualizedBGEModel`: batching, devices, tokenising."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torchvision import transforms
from tqdm.auto import tqdm

from mmrag_lab.encoders.base import Encoder, EncoderInfo
from mmrag_lab.encoders.visualized_bge import VisualizedBGEModel
from mmrag_lab.errors import ConfigError
from mmrag_lab.images import ImageSource, load_image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def eva_val_transform(size: int) -> Callable:
    """EVA-CLIP's evaluation transform: bicubic shorter side to ``size``, centre crop, CLIP normalisation."""
    return transforms.Compose(
        [
            transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize(CLIP_MEAN, CLIP_STD),
        ]
    )


class VisualBGEEncoder(Encoder):
    """Batched inference for one loaded Visualized BGE model.

    Args:
        model: The network, weights loaded, already on ``device`` in ``dtype``.
        tokenizer: The text model's tokenizer.
        info: What made the vectors.
        image_size: Input resolution of the vision tower.
        max_text_tokens: Instruction length limit (with [CLS]/[SEP]) so that image + text fit the positions.
        device: Torch device of the model.
        batch_size: Default batch size.
    """

    def __init__(
        self,
        model: VisualizedBGEModel,
        tokenizer,
        info: EncoderInfo,
        image_size: int,
        max_text_tokens: int,
        device: torch.device,
        batch_size: int = 16,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.info = info
        self.image_size = image_size
        self.max_text_tokens = max_text_tokens
        self.max_plain_text_tokens = model.bge_embeddings.cfg.max_text_tokens
        self.device = device
        self.dtype = next(model.parameters()).dtype
        self.batch_size = batch_size
        self.transform = eva_val_transform(image_size)

    def __repr__(self) -> str:
        flag = ", UNTRAINED" if self.untrained else ""
        return f"VisualBGEEncoder({self.name}, dim={self.dim}, {self.device}, {self.dtype}{flag})"

    def preprocess(self, image: ImageSource) -> torch.Tensor:
        return self.transform(load_image(image))

    def tokenize(self, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
        """Tokenise with explicit truncation to ``max_length`` tokens."""
        if not all(isinstance(t, str) for t in texts):
            raise ConfigError("Instructions and texts must be strings; use '' for no instruction.")
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        return {k: batch[k].to(self.device) for k in ("input_ids", "attention_mask")}

    @torch.inference_mode()
    def encode_pixels(self, pixels: torch.Tensor, instructions: Sequence[str] | None = None) -> np.ndarray:
        texts = [""] * len(pixels) if instructions is None else list(instructions)
        if len(texts) != len(pixels):
            raise ConfigError(f"Got {len(pixels)} images but {len(texts)} instructions; pass one per image.")
        tokens = self.tokenize(texts, self.max_text_tokens)
        pixels = pixels.to(self.device, self.dtype, non_blocking=True)
        return self.model.encode_mm(pixels, **tokens).cpu().numpy()

    def encode_images(self, images: Sequence[ImageSource], batch_size: int | None = None) -> np.ndarray:
        return self._batched(list(images), None, batch_size, "images")

    def encode_queries(
        self, images: Sequence[ImageSource], instructions: Sequence[str], batch_size: int | None = None
    ) -> np.ndarray:
        images, instructions = list(images), list(instructions)
        if len(images) != len(instructions):
            raise ConfigError(
                f"Got {len(images)} images but {len(instructions)} instructions; pass one each."
            )
        return self._batched(images, instructions, batch_size, "queries")

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        texts = list(texts)
        size = batch_size or self.batch_size
        out = []
        with self._progress(len(texts), size, "texts") as bar:
            for start in range(0, len(texts), size):
                tokens = self.tokenize(texts[start : start + size], self.max_plain_text_tokens)
                out.append(self.model.encode_text(**tokens).cpu().numpy())
                bar.update(len(out[-1]))
        return self._stack(out)

    def _batched(self, images: list, instructions: list | None, batch_size: int | None, what: str):
        size = batch_size or self.batch_size
        out = []
        with self._progress(len(images), size, what) as bar:
            for start in range(0, len(images), size):
                pixels = torch.stack([self.preprocess(image) for image in images[start : start + size]])
                texts = None if instructions is None else instructions[start : start + size]
                out.append(self.encode_pixels(pixels, texts))
                bar.update(len(pixels))
        return self._stack(out)

    @staticmethod
    def _progress(total: int, size: int, what: str) -> tqdm:
        """A bar counting items (so it shows items/s), shown only when there is more than one batch."""
        return tqdm(
            total=total,
            desc=f"encode {what}",
            unit=what[:-1] if what.endswith("s") else what,
            disable=total <= size,
        )

    def _stack(self, parts: list[np.ndarray]) -> np.ndarray:
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts).astype(np.float32, copy=False))
