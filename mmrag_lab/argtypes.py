"""The types of the public API's arguments, checked where they come in: a text, a path, an image, a dict.

``mmrag_lab.search``, ``.ingest``, ``.rerank``, ``.rerank_many``, ``.evaluate``, ``.load_encoder``,
``Store.open`` and ``Config`` run these on their arguments first, so ``search(instruction=5)`` or
``where="category=dress"`` is one :class:`~mmrag_lab.errors.ConfigError` that names the argument and what
it takes, never an ``AttributeError`` from deep inside. Their values' ranges are :mod:`mmrag_lab.checks`'.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmrag_lab.errors import ConfigError

URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
IMAGE_KINDS = "a file path, a PIL image, a numpy array (H, W) or (H, W, 3|4) of uint8, or the file's bytes"


def given(value: Any) -> str:
    """``value``'s type and a short repr, for messages."""
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 60 else shown[:57] + '...'}"


def text(name: str, value: Any, *, optional: bool = True) -> str | None:
    """A ``str`` (or None when ``optional``) that UTF-8 can encode: a lone surrogate (``"\\ud800"``, left by
    bytes decoded with ``errors="surrogateescape"``) is no text a tokenizer can read."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a text (str){' or None' if optional else ''}, got {given(value)}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"{name} holds a lone surrogate {value[exc.start]!r} at character {exc.start}, which is not text; "
            "it comes from bytes decoded with errors='surrogateescape'. Decode them as UTF-8 (errors='replace')."
        ) from None
    return value


def local_path(name: str, value: Any, *, optional: bool = False, output: bool = False) -> Path | None:
    """A local path as ``str``, ``bytes`` or ``os.PathLike``: never empty (``""`` would be the current
    folder), never a URL (nothing is downloaded; with ``output``, nothing is uploaded)."""
    if value is None and optional:
        return None
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise ConfigError(f"{name} must be a path (str or pathlib.Path), got {given(value)}.")
    path = os.fsdecode(value)
    if not path.strip():
        raise ConfigError(f"{name} is empty; give a path (an empty one would mean the current folder).")
    if URL.match(path) and output:
        raise ConfigError(f"{name} {path!r} is a URL; mmrag_lab writes local files only. Give a local path.")
    if URL.match(path):
        raise ConfigError(
            f"{name} {path!r} is a URL; mmrag_lab reads local files only. Download it first (e.g. "
            "`curl -L -o FILE URL`) and give the file's path."
        )
    if "\x00" in path:
        raise ConfigError(f"{name} {path!r} holds a NUL character, which no path can; check the value.")
    return Path(path)


def image(name: str, value: Any) -> Any:
    """A picture as the API takes it (:data:`IMAGE_KINDS`) or None; a path passes :func:`local_path`."""
    content = isinstance(value, (bytearray, memoryview)) or (isinstance(value, bytes) and b"\x00" in value)
    if value is None or content or _is(value, "PIL.Image", "Image") or _is(value, "numpy", "ndarray"):
        return value  # bytes with a NUL are a file's content (no path holds one): mmrag_lab.images.is_content
    if isinstance(value, (str, bytes, os.PathLike)):
        return local_path(name, value) and value
    raise ConfigError(f"{name} must be an image: {IMAGE_KINDS}; got {given(value)}.")


def mapping(name: str, value: Any, example: str) -> Mapping | None:
    """A dict (or None) whose keys are texts; ``example`` shows one."""
    if value is not None and not (isinstance(value, Mapping) and all(isinstance(k, str) for k in value)):
        raise ConfigError(f"{name} must be a dict with text keys such as {example}, got {given(value)}.")
    return value


def flag(name: str, value: Any, *, optional: bool = False) -> bool | None:
    """``True`` or ``False`` (or None when ``optional``); ``"no"`` is a text, and would count as true."""
    if not isinstance(value, bool) and not (value is None and optional):
        raise ConfigError(
            f"{name} must be True or False{' or None' if optional else ''}, got {given(value)}."
        )
    return value


def instance(name: str, value: Any, kind: type, how: str) -> Any:
    """``value`` when it is None or a ``kind``; ``how`` says where one comes from."""
    if value is not None and not isinstance(value, kind):
        article = "an" if kind.__name__[0] in "AEIOU" else "a"
        raise ConfigError(f"{name} must be {article} {kind.__name__} ({how}), got {given(value)}.")
    return value


def _is(value: Any, module: str, cls: str) -> bool:
    """``isinstance(value, module.cls)`` without importing ``module`` (nothing is one if it is not loaded)."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(value, getattr(loaded, cls))
