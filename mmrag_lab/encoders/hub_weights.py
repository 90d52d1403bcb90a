"""Weights of the Hugging Face presets: a local model folder, the hub (with a progress bar), or untrained.

A model folder has the hub's layout (``config.json``, ``preprocessor_config.json``, tokenizer files and
``model.safetensors`` or ``pytorch_model.bin``), so a folder copied from the hub and a download are read the
same way by ``from_pretrained``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.encoders.presets import ASSETS, Preset
from mmrag_lab.encoders.weights import UNTRAINED, det_param, fingerprint
from mmrag_lab.errors import WeightsError

CLIP_TOKENIZER = ASSETS / "clip-tokenizer"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_PATTERNS = ["*.json", "*.txt", "*.model"]


def config_folder(preset: Preset) -> Path:
    """The bundled folder with the preset's ``config.json`` and ``preprocessor_config.json``."""
    return ASSETS / "configs" / preset.name


def resolve_folder(preset: Preset, weights: str | None) -> str:
    """A local model folder for ``preset``, or ``"untrained"``.

    Raises:
        WeightsError: The folder is not a model folder, or the download failed; says what to do.
    """
    if weights == UNTRAINED:
        return UNTRAINED
    if weights:
        folder = Path(weights).expanduser()
        if not (folder / "config.json").is_file() or not any((folder / f).is_file() for f in WEIGHT_FILES):
            raise WeightsError(
                f"{folder} is not a model folder of {preset.hub_repo}: it needs config.json and one of "
                f"{', '.join(WEIGHT_FILES)} (the hub repo's layout). Pass such a folder, or 'untrained'."
            )
        return str(folder)
    if preset.hub_repo is None:
        return UNTRAINED
    return _download(preset)


def cached_folder(repo: str) -> str | None:
    """The repo's model folder in the local hub cache, if a complete one is there."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(
            snapshot_download(repo, local_files_only=True, cache_dir=os.environ.get("HF_HUB_CACHE"))
        )
    except Exception:  # not cached (or no cache at all): the caller downloads or says what to do
        return None
    complete = (folder / "config.json").is_file() and any((folder / f).is_file() for f in WEIGHT_FILES)
    return str(folder) if complete else None


def _download(preset: Preset) -> str:
    from huggingface_hub import list_repo_files, snapshot_download

    repo = preset.hub_repo
    cached = cached_folder(repo)
    if cached:
        return cached
    try:
        files = set(list_repo_files(repo))
        weight = next((f for f in WEIGHT_FILES if f in files), WEIGHT_FILES[0])
        return snapshot_download(repo, allow_patterns=[*_PATTERNS, weight])
    except Exception as exc:  # offline, refused, or a hub error: all end the same way for the user
        raise WeightsError(
            f"Weights for '{preset.name}' could not be downloaded from the hub repo {repo} "
            f"({type(exc).__name__}). On a machine with access run `huggingface-cli download {repo} "
            f"--local-dir FOLDER`, copy FOLDER here, then pass weights='FOLDER' or set MMRAG_WEIGHTS=FOLDER. "
            "For an offline smoke run use weights='untrained' (vectors are then meaningless)."
        ) from exc


def untrained(model_class, config) -> nn.Module:
    """``model_class(config)`` with every parameter at its deterministic untrained value (the parity
    fixture's recipe); the library's random initialisation is skipped, since every value is overwritten."""
    from transformers.initialization import no_init_weights

    with no_init_weights():
        model = model_class(config)
    with torch.no_grad():
        for key, param in model.named_parameters():
            param.copy_(torch.from_numpy(det_param(key, tuple(param.shape))))
    return model


def from_folder(model_class, folder: str) -> nn.Module:
    """``model_class.from_pretrained(folder)`` in fp32 on the CPU, as a :class:`WeightsError` when it fails."""
    try:
        return model_class.from_pretrained(folder, dtype=torch.float32)
    except Exception as exc:
        raise WeightsError(
            f"Cannot load {model_class.__name__} from {folder} ({type(exc).__name__}: {exc}). Is the folder a "
            "complete copy of the preset's hub repo? Download it again with `huggingface-cli download`."
        ) from exc


def info(preset: Preset, model: nn.Module, dim: int, folder: str) -> EncoderInfo:
    """The :class:`EncoderInfo` of a loaded hub model."""
    return EncoderInfo(
        name=preset.name,
        dim=int(dim),
        untrained=folder == UNTRAINED,
        weights=folder,
        fingerprint=fingerprint(model),
    )
