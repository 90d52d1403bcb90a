"""The :class:`Encoder` implementation around :class:`VisualizedBGEModel`: batching, devices, tokenising."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager

import numpy as np
import torch

from mmrag_lab.encoders.base import Encoder, EncoderInfo
from mmrag_lab.encoders.batches import check_texts, progress
from mmrag_lab.encoders.compiled import CompiledForward
from mmrag_lab.encoders.preprocessing import Preprocessing
from mmrag_lab.encoders.visualized_bge.model import VisualizedBGEModel


def eva_preprocessing(size: int) -> Preprocessing:
    """EVA-CLIP's evaluation transform: bicubic shorter side to ``size``, centre crop, CLIP normalisation."""
    return Preprocessing(size=size, resize="shorter-side", interpolation="bicubic", crop="center-round")


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

    fusion = "joint"

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
        self.instruction_limit = max_text_tokens
        self.text_limit = model.bge_embeddings.cfg.max_text_tokens
        self.device = device
        self.dtype = next(model.parameters()).dtype
        self.batch_size = batch_size
        self.preprocessing = eva_preprocessing(image_size)
        self._images = CompiledForward(self.model.encode_mm, self.info.name)  # images without instructions
        self._no_instruction: dict[str, dict[str, torch.Tensor]] = {}  # tokens of "" per device

    def compiled(
        self, cache_dir: str | os.PathLike | None = None, mode: str = "default"
    ) -> AbstractContextManager[None]:
        return self._images.enabled(cache_dir, mode)

    def tokenize(self, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
        """Tokenise with explicit truncation to ``max_length`` tokens."""
        batch = self.tokenizer(
            check_texts(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        return {k: batch[k].to(self.device) for k in ("input_ids", "attention_mask")}

    @torch.inference_mode()
    def image_vectors(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.to(self.device, self.dtype, non_blocking=True)
        key = str(self.device)  # the tokens of "" are the same for every image: made once per device
        if key not in self._no_instruction:
            self._no_instruction[key] = self.tokenize([""], self.instruction_limit)
        tokens = {k: v.expand(len(pixels), -1) for k, v in self._no_instruction[key].items()}
        return self._images(pixels, **tokens).float()

    def weights(self) -> torch.nn.Module:
        return self.model

    @torch.inference_mode()
    def encode_pixels(self, pixels: torch.Tensor, instructions: Sequence[str] | None = None) -> np.ndarray:
        if instructions is None:
            return self.image_vectors(pixels).cpu().numpy()
        pixels = pixels.to(self.device, self.dtype, non_blocking=True)
        tokens = self.tokenize(check_texts(instructions, len(pixels)), self.instruction_limit)
        return self.model.encode_mm(pixels, **tokens).cpu().numpy()

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        texts = list(texts)
        size = batch_size or self.batch_size
        out = []
        with progress(len(texts), size, "texts") as bar:
            for start in range(0, len(texts), size):
                tokens = self.tokenize(texts[start : start + size], self.text_limit)
                out.append(self.model.encode_text(**tokens).cpu().numpy())
                bar.update(len(out[-1]))
        return self.stack(out)
