"""Encoders: ``load_encoder`` builds a preset, finds its weights and returns a ready :class:`Encoder`."""

from __future__ import annotations

import importlib
import logging
import warnings

import torch

from mmrag_lab import argtypes
from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder, EncoderInfo
from mmrag_lab.encoders.presets import PRESETS, Preset, get_preset
from mmrag_lab.errors import ConfigError, UntrainedWeightsWarning

__all__ = ["PRESETS", "Encoder", "EncoderInfo", "load_encoder", "pick_device"]
log = logging.getLogger(__name__)
_DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}
# preset family -> module of this package with load(preset, config, device, dtype) -> Encoder
FAMILIES = {"visualized-bge": "visualized_bge.family", "clip": "clip_family", "siglip": "siglip_family"}
_warned: set[str] = set()


def load_encoder(
    name: str | None = None,
    *,
    weights: str | None = None,
    text_model: str | None = None,
    device: str = "auto",
    dtype: str | torch.dtype = "auto",
    config: Config | None = None,
    batch_size: int | None = None,
) -> Encoder:
    """Build an encoder preset with its weights.

    Args:
        name: Preset name (default ``MMRAG_ENCODER`` or ``visualized-bge-base``); ``mmrag encoders`` lists them.
        weights: ``"untrained"``, or where the real weights are: a ``.pth`` checkpoint (Visualized BGE) or a
            model folder with the hub repo's layout (the other presets); default ``MMRAG_WEIGHTS``, then the hub
            cache, then a download from the preset's hub repo with a progress bar.
        text_model: Visualized BGE only: hub id or local folder with the text config and tokenizer
            (``MMRAG_TEXT_MODEL``).
        device: ``auto`` (cuda, then mps, then cpu), or a torch device string.
        dtype: ``auto`` (fp16 on GPU, fp32 on CPU), ``fp32``, ``fp16``, ``bf16`` or a torch dtype.
        config: Base configuration; explicit arguments win over it.
        batch_size: Default batch size for the ``encode_*`` methods.

    Raises:
        ConfigError: Unknown preset, device or dtype, or an unreadable text model.
        WeightsError: The weights cannot be found or downloaded.
        CheckpointMismatchError: The checkpoint's parameters do not fit the preset; names the keys.
    """
    argtypes.instance("config", config, Config, "e.g. Config.load(...)")
    cfg = (config or Config.load()).with_overrides(
        encoder=name,
        weights=weights,
        text_model=text_model,
        device=None if device == "auto" else device,
        batch_size=batch_size,
    )
    preset = get_preset(cfg.encoder)
    torch_device = pick_device(cfg.device)
    torch_dtype = pick_dtype(dtype, torch_device)
    family = importlib.import_module(f"mmrag_lab.encoders.{FAMILIES[preset.family]}")
    encoder = family.load(preset, cfg, torch_device, torch_dtype)
    if encoder.untrained:
        _warn_untrained(preset)
    return encoder


def pick_device(device: str = "auto") -> torch.device:
    """Resolve ``auto`` to cuda, then mps, then cpu; validate anything else."""
    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"Unknown device {device!r} (--device / MMRAG_DEVICE); use auto, cpu, cuda, cuda:N or mps."
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"Device {device!r} (--device / MMRAG_DEVICE) was asked for but CUDA is not available here; "
            "use device='cpu' (or auto)."
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ConfigError(
            f"Device {device!r} (--device / MMRAG_DEVICE) does not exist: this machine has "
            f"{torch.cuda.device_count()} CUDA device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}."
        )
    if resolved.type == "mps" and not getattr(getattr(torch.backends, "mps", None), "is_available", bool)():
        raise ConfigError(f"Device {device!r} (--device / MMRAG_DEVICE): MPS is not available here; use cpu.")
    return resolved


def pick_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """``auto`` means fp16 on GPUs and fp32 on the CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "", "auto"):
        return torch.float16 if device.type in ("cuda", "mps") else torch.float32
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise ConfigError(f"Unknown dtype {dtype!r}; use auto, fp32, fp16 or bf16.") from None


def _warn_untrained(preset: Preset) -> None:
    if preset.name in _warned:
        return
    _warned.add(preset.name)
    warnings.warn(
        f"Encoder '{preset.name}' runs on deterministic UNTRAINED weights: its vectors and scores carry no "
        "meaning. Get the real checkpoint (see docs/configuration.md, 'Weights') for meaningful retrieval.",
        UntrainedWeightsWarning,
        stacklevel=3,
    )
