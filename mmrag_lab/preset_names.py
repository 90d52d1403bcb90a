"""The encoder presets' names, and the one function that reads a preset name as a user types it.

:class:`~mmrag_lab.config.Config` (the lowest layer) must not import the encoders, which import torch, so
the names live here. :data:`mmrag_lab.encoders.presets.PRESETS` is keyed by exactly these names (a test
checks it). Every way a name comes in (``--encoder``, ``MMRAG_ENCODER``, ``name=``, a notebook's
``ENCODER``) goes through :func:`preset_name`, so a name that is no preset is refused once, before any store
is opened, with the list of presets, and ``TINY`` becomes ``tiny`` everywhere (collection names included).
"""

from __future__ import annotations

import difflib
from typing import Any

from mmrag_lab.errors import ConfigError

PRESET_NAMES = (
    "visualized-bge-base",
    "visualized-bge-m3",
    "tiny",
    "bge-vl-base",
    "bge-vl-large",
    "clip-vit-b16",
    "clip-vit-l14",
    "siglip2-base",
    "tiny-clip",
)


def preset_name(name: str, value: Any) -> str:
    """``value`` as a preset's canonical name; case, surrounding spaces and ``_`` for ``-`` do not matter.

    Args:
        name: How the user gave it (``--encoder``, ``MMRAG_ENCODER``, ``encoder``), for the message.
        value: The name given.

    Raises:
        ConfigError: ``value`` names no preset (or is no text); the message lists the presets.
    """
    presets = ", ".join(PRESET_NAMES)
    if not isinstance(value, str):
        raise ConfigError(
            f"{name} must be an encoder preset's name (a text), got {type(value).__name__} {value!r}. "
            f"Presets: {presets}."
        )
    key = value.strip().lower().replace("_", "-")
    if key in PRESET_NAMES:
        return key
    close = difflib.get_close_matches(key, PRESET_NAMES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"{name}: {value!r} is not an encoder preset.{hint} Presets: {presets} (`mmrag encoders` "
        "describes each)."
    )
