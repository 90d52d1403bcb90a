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
        lacks = missing_files(folder)
        if lacks:
            raise WeightsError(_not_a_model_folder(preset, folder, lacks))
        return str(folder)
    if preset.hub_repo is None:
        return UNTRAINED
    return _download(preset)


def missing_files(folder: Path) -> list[str]:
    """What ``folder`` lacks to be a model folder: ``config.json`` and/or a weights file; [] when complete."""
    lacks = [] if (folder / "config.json").is_file() else ["config.json"]
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        lacks.append(f"a weights file ({' or '.join(WEIGHT_FILES)})")
    return lacks


def _not_a_model_folder(preset: Preset, folder: Path, lacks: list[str]) -> str:
    """Why ``folder`` is no model folder for ``preset``, naming what it lacks and where a whole one comes from."""
    head = f"Weights for encoder preset '{preset.name}': {folder}"
    if preset.hub_repo:
        fix = (
            f"Give a folder with the layout of the hub repo {preset.hub_repo} (`huggingface-cli download "
            f"{preset.hub_repo} --local-dir FOLDER`), or 'untrained'."
        )
    else:
        fix = f"'{preset.name}' has no published weights: use 'untrained' (or a folder saved from it)."
    if not folder.exists():
        return f"{head} does not exist (no such folder). {fix}"
    if not folder.is_dir():
        return f"{head} is a file, but this preset reads a model folder (config.json and weights). {fix}"
    return f"{head} is not a whole model folder: it lacks {' and '.join(lacks)}. {fix}"


def cached_folder(repo: str) -> str | None:
    """The repo's model folder in the local hub cache, if a complete one is there."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(
            snapshot_download(repo, local_files_only=True, cache_dir=os.environ.get("HF_HUB_CACHE"))
        )
    except Exception:  # not cached (or no cache at all): the caller downloads or says what to do
        return None
    return None if missing_files(folder) else str(folder)


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
