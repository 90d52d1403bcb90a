"""Finding and loading weights: explicit path, ``MMRAG_WEIGHTS``, the hub cache, then a download.

``untrained`` weights are deterministic: every parameter is drawn from a generator seeded by the CRC32 of
its name, so the same preset always gives the same vectors, on any machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmrag_lab.encoders.presets import BUNDLED_TEXT_MODELS, WEIGHTS_REPO, Preset
from mmrag_lab.encoders.visualized_bge.bert import TextConfig
from mmrag_lab.errors import CheckpointMismatchError, ConfigError, WeightsError

log = logging.getLogger(__name__)
UNTRAINED = "untrained"
COMPUTED_BUFFERS = ("rope.freqs_cos", "rope.freqs_sin")


def resolve_checkpoint(preset: Preset, weights: str | None) -> str:
    """Return a checkpoint path, or ``"untrained"``.

    ``weights`` already merges the explicit argument and ``MMRAG_WEIGHTS`` (see :class:`Config`); when it is
    None the hub cache is tried, then a resumable download with a progress bar.

    Raises:
        WeightsError: The file is missing and cannot be downloaded; the message says where to get it.
    """
    if weights == UNTRAINED:
        return UNTRAINED
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsError(_not_a_checkpoint(preset, path))
        return str(path)
    if preset.checkpoint is None:
        return UNTRAINED
    return _from_hub(preset)


def _not_a_checkpoint(preset: Preset, path: Path) -> str:
    """Why ``path`` is no checkpoint for ``preset``, and which file would be."""
    head = f"Weights for encoder preset '{preset.name}': {path}"
    if preset.checkpoint:
        wanted, fix = (
            preset.checkpoint,
            f"get it from {WEIGHTS_REPO} (docs/configuration.md, 'Weights'), or use 'untrained'",
        )
    else:
        wanted, fix = "a .pth file", f"'{preset.name}' has no published weights: use 'untrained'"
    if path.is_dir():
        inside = path / wanted
        if inside.is_file():
            return f"{head} is a folder, but this preset reads one checkpoint file: pass {inside}."
        return f"{head} is a folder, but this preset reads one checkpoint file ({wanted}); {fix}."
    if path.exists():
        return f"{head} is not a regular file (a pipe or a device); give the checkpoint file ({wanted})."
    return f"{head} does not exist (no such file); {fix}."


def _from_hub(preset: Preset) -> str:
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(WEIGHTS_REPO, preset.checkpoint)
    if isinstance(cached, str) and os.path.isfile(cached):
        return cached
    try:
        return hf_hub_download(WEIGHTS_REPO, preset.checkpoint)
    except Exception as exc:  # offline, refused, or a hub error: all end the same way for the user
        raise WeightsError(_missing_message(preset, exc)) from exc


def _missing_message(preset: Preset, exc: Exception) -> str:
    url = f"https://huggingface.co/{WEIGHTS_REPO}/resolve/main/{preset.checkpoint}"
    return (
        f"Weights for '{preset.name}' ({preset.checkpoint}) are not in the local hub cache and could not be "
        f"downloaded from the hub repo {WEIGHTS_REPO} ({type(exc).__name__}). Get the file from {url} on a "
        f"machine with access, then either pass weights='/path/to/{preset.checkpoint}', set "
        f"MMRAG_WEIGHTS=/path/to/{preset.checkpoint}, or put it in the hub cache with "
        f"`huggingface-cli download {WEIGHTS_REPO} {preset.checkpoint}`. "
        "For an offline smoke run use weights='untrained' (vectors are then meaningless)."
    )


def resolve_text_model(preset: Preset, text_model: str | None) -> str:
    """Return a local folder or hub id holding the text config and tokenizer."""
    name = text_model or preset.text_model
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in BUNDLED_TEXT_MODELS:
        return str(BUNDLED_TEXT_MODELS[name])
    return name


def text_config(preset: Preset, source: str) -> TextConfig:
    """Read the text architecture from ``source``'s config.json (or the hub), unless the preset fixes it."""
    if preset.own_text_arch and preset.text is not None:
        return preset.text
    config_file = Path(source) / "config.json"
    if config_file.is_file():
        return TextConfig.from_dict(json.loads(config_file.read_text()))
    try:
        from transformers import AutoConfig

        return TextConfig.from_dict(AutoConfig.from_pretrained(source).to_dict())
    except Exception as exc:
        raise ConfigError(
            f"Cannot read the text model config from {source!r} ({type(exc).__name__}: {exc}). Set "
            "MMRAG_TEXT_MODEL (or text_model=) to a folder holding its config.json and tokenizer files."
        ) from exc


def load_tokenizer(source: str):
    """Load the tokenizer that belongs to the text model."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(source)
    except Exception as exc:
        raise ConfigError(
            f"Cannot load the tokenizer from {source!r} ({type(exc).__name__}). Set MMRAG_TEXT_MODEL "
            "(or text_model=) to a folder holding the tokenizer files (vocab.txt, tokenizer_config.json)."
        ) from exc


def det_param(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """Deterministic untrained value for one parameter (the recipe of the parity fixture)."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    values = np.asarray(rng.standard_normal(shape), dtype=np.float32)
    if key.endswith(".bias") or key.endswith("_bias"):
        return values * 0.02
    if len(shape) <= 1:
        return np.asarray(1.0 + 0.1 * values, dtype=np.float32)
    return values * 0.05


def untrained_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Deterministic untrained parameters for ``model``'s layout."""
    return {
        key: torch.from_numpy(det_param(key, tuple(param.shape))) for key, param in model.named_parameters()
    }


def read_checkpoint(path: str) -> dict[str, torch.Tensor]:
    """Load a state dict from disk on the CPU, tensors only."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"Cannot read checkpoint {path} ({type(exc).__name__}: {exc}). Is it a complete PyTorch .pth "
            "file? A partial download is resumed by running the same command again."
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"Checkpoint {path} holds a {type(state).__name__}, not a state dict.")
    return state


def load_strict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy ``state`` into ``model``: every parameter must be present, with its shape, and nothing else.

    Raises:
        CheckpointMismatchError: Names the missing, unexpected and mis-shaped keys.
    """
    params = dict(model.named_parameters())
    given = {k: v for k, v in state.items() if not k.endswith(COMPUTED_BUFFERS)}
    missing = sorted(set(params) - set(given))
    unexpected = sorted(set(given) - set(params))
    wrong = sorted(
        f"{k} {tuple(given[k].shape)} != {tuple(params[k].shape)}"
        for k in set(params) & set(given)
        if tuple(given[k].shape) != tuple(params[k].shape)
    )
    if missing or unexpected or wrong:
        raise CheckpointMismatchError(missing, unexpected, wrong)
    with torch.no_grad():
        for key, param in params.items():
            param.copy_(given[key])


def fingerprint(model: nn.Module) -> str:
    """A short hash of the parameters: names, shapes and a sample of values from each tensor."""
    digest = hashlib.sha256()
    for key, param in sorted(model.named_parameters()):
        flat = param.detach().reshape(-1)
        sample = torch.cat([flat[:64], flat[-64:], flat.sum().reshape(1)]).float().cpu().numpy()
        digest.update(key.encode())
        digest.update(str(tuple(param.shape)).encode())
        digest.update(np.round(sample, 5).tobytes())
    return digest.hexdigest()[:16]
