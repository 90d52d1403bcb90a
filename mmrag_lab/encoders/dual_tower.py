"""The :class:`Encoder` around a ``transformers`` two-tower model (CLIP, BGE-VL, SigLIP): ``fusion="sum"``.

A composed query is ``normalize(get_image_features(pixels) + get_text_features(tokens))``, the sum of the
unnormalised projections. It is BGE-VL's own rule (MegaPairs ``modeling_MMRet_CLIP.py``) and the standard
"image + text" baseline of composed-retrieval papers for CLIP and SigLIP. An empty instruction gives the
image embedding.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmrag_lab.encoders.base import Encoder, EncoderInfo
from mmrag_lab.encoders.batches import check_texts, progress
from mmrag_lab.encoders.compiled import CompiledForward
from mmrag_lab.encoders.preprocessing import Preprocessing
from mmrag_lab.errors import ConfigError
from mmrag_lab.images import ImageSource

_RESAMPLE = {2: "bilinear", 3: "bicubic"}


def preprocessing_of(processor, exif_transpose: bool) -> Preprocessing:
    """The :class:`Preprocessing` that a ``transformers`` image processor (PIL backend) performs.

    Raises:
        ConfigError: The processor does something :class:`Preprocessing` cannot describe.
    """
    size, crop = dict(processor.size), dict(processor.crop_size or {}) if processor.do_center_crop else {}
    resample = _RESAMPLE.get(int(processor.resample))
    common = dict(
        mean=tuple(processor.image_mean), std=tuple(processor.image_std), exif_transpose=exif_transpose
    )
    if (
        resample
        and size.get("shortest_edge")
        and crop.get("height") == crop.get("width") == size["shortest_edge"]
    ):
        return Preprocessing(
            size=crop["height"], resize="shorter-side", interpolation=resample, crop="center-floor", **common
        )
    if resample and not crop and size.get("height") and size.get("height") == size.get("width"):
        return Preprocessing(
            size=size["height"], resize="square", interpolation=resample, crop="none", **common
        )
    raise ConfigError(
        f"The model folder's image processor (size {size}, crop {crop}, resample {processor.resample}) is not "
        "one this workbench reproduces; use the preset's own hub folder."
    )  # fmt: skip


class DualTowerEncoder(Encoder):
    """Batched inference for a loaded two-tower model.

    Args:
        model: A ``CLIPModel`` or ``SiglipModel``, weights loaded, on ``device`` in its dtype.
        image_processor: The model folder's image processor (PIL backend); :meth:`preprocess` runs it.
        tokenizer: The model folder's tokenizer.
        info: What made the vectors.
        preprocessing: What ``image_processor`` does, for the ingest workers and the GPU path.
        text_limit: Token positions of the text tower; longer texts are truncated to it.
        padding: ``True`` (CLIP: to the longest text) or ``"max_length"`` (SigLIP: always ``text_limit``).
        text_inputs: Tokenizer outputs the text tower reads (SigLIP reads no attention mask).
        device: Torch device of the model.
        batch_size: Default batch size.
    """

    fusion = "sum"

    def __init__(
        self,
        model: nn.Module,
        image_processor,
        tokenizer,
        info: EncoderInfo,
        preprocessing: Preprocessing,
        text_limit: int,
        padding: bool | str,
        text_inputs: tuple[str, ...],
        device: torch.device,
        batch_size: int = 16,
    ):
        self.model = model.eval()
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        self.info = info
        self.preprocessing = preprocessing
        self.text_limit = self.instruction_limit = text_limit
        self.padding = padding
        self.text_inputs = text_inputs
        self.device = device
        self.dtype = next(model.parameters()).dtype
        self.batch_size = batch_size
        self._images = CompiledForward(self._image_embeddings, info.name)  # images without instructions

    def compiled(
        self, cache_dir: str | os.PathLike | None = None, mode: str = "default"
    ) -> AbstractContextManager[None]:
        return self._images.enabled(cache_dir, mode)

    def _image_embeddings(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_features(pixels), dim=-1)

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unnormalised image projections in float32."""
        return _projection(self.model.get_image_features(pixel_values=pixels))

    def preprocess(self, image: ImageSource) -> torch.Tensor:
        """Open the image by :attr:`preprocessing`'s rule, then run the model's own image processor."""
        picture = self.preprocessing.load(image)
        # A palette image's transparency survives convert("RGB") in .info, and the processor of transformers
        # 5.x would then composite it on white; the RGB pixels are what the ingest workers (and upstream) read.
        picture.info.pop("transparency", None)
        return self.image_processor(images=picture, return_tensors="pt")["pixel_values"][0]

    def text_features(self, texts: Sequence[str]) -> torch.Tensor:
        """Unnormalised text projections in float32, texts truncated to :attr:`text_limit` tokens."""
        batch = self.tokenizer(
            list(texts),
            padding=self.padding,
            truncation=True,
            max_length=self.text_limit,
            return_tensors="pt",
        )
        tokens = {k: batch[k].to(self.device) for k in self.text_inputs}
        return _projection(self.model.get_text_features(**tokens))

    @torch.inference_mode()
    def image_vectors(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._images(pixels.to(self.device, self.dtype, non_blocking=True))

    def weights(self) -> nn.Module:
        return self.model

    @torch.inference_mode()
    def encode_pixels(self, pixels: torch.Tensor, instructions: Sequence[str] | None = None) -> np.ndarray:
        if instructions is None:
            return self.image_vectors(pixels).cpu().numpy()
        pixels = pixels.to(self.device, self.dtype, non_blocking=True)
        features = self.image_features(pixels)
        texts = check_texts(instructions, len(pixels))
        rows = [i for i, text in enumerate(texts) if text]
        if rows:
            features[rows] += self.text_features([texts[i] for i in rows])
        return F.normalize(features, dim=-1).cpu().numpy()

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        texts = check_texts(texts)
        size = batch_size or self.batch_size
        out = []
        with progress(len(texts), size, "texts") as bar:
            for start in range(0, len(texts), size):
                out.append(F.normalize(self.text_features(texts[start : start + size]), dim=-1).cpu().numpy())
                bar.update(len(out[-1]))
        return self.stack(out)


def _projection(output) -> torch.Tensor:
    """A tower's projected features: a tensor (transformers 4.x), or the pooled output of 5.x."""
    features = output if isinstance(output, torch.Tensor) else output.pooler_output
    return features.float()
