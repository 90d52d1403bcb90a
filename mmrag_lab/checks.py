"""The checks every setting and argument passes before anything is loaded or connected.

Each check raises :class:`~mmrag_lab.errors.ConfigError` with a message that names the setting the way the
user gave it (``--batch-size``, ``MMRAG_BATCH_SIZE``, ``K``) and says what would work. They cost
microseconds, so the CLI, the notebooks and the app run them before the encoder loads (6-9 s) or a store
is opened. :mod:`mmrag_lab.config` applies them to every field it builds. The types of the public API's
arguments (a text, a path, an image, a dict) are checked by :mod:`mmrag_lab.argtypes`, the same way.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from mmrag_lab.argtypes import local_path, text
from mmrag_lab.errors import ConfigError

# Milvus' own rule for collection names: a letter or underscore first, then letters, digits, underscores.
COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_COLLECTION_NAME = 255
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
URI_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
KNOWN_SCHEMES = ("http", "https", "tcp", "grpc")
MAX_INSTRUCTION_CHARS = 10_000
MAX_PORT = 65_535


def whole_number(name: str, value: Any, *, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int from ``low`` to ``high``; ``name`` is how the user spelled the setting."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    top = "" if high is None else f" to {high:,}"
    if number is None or number < low or (high is not None and number > high):
        raise ConfigError(f"{name} must be a whole number from {low}{top}, got {value!r}.")
    return number


def _finite(value: Any) -> float:
    """``value`` as a finite float, or NaN when it is none (booleans are not numbers here)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) and not isinstance(value, bool) else math.nan


def seconds(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a finite number of seconds, above zero (or zero when ``allow_zero``)."""
    number = _finite(value)
    if not (number >= 0 if allow_zero else number > 0):  # NaN fails both
        least = "0 or more" if allow_zero else "above 0"
        raise ConfigError(f"{name} must be a number of seconds {least}, got {value!r}.")
    return number


def megabytes(name: str, value: Any) -> float:
    """``value`` as a finite size in megabytes, above zero."""
    number = _finite(value)
    if not number > 0:
        raise ConfigError(f"{name} must be a size in megabytes above 0, got {value!r}.")
    return number


def fraction(name: str, value: Any) -> float:
    """``value`` as a number from 0 to 1."""
    number = _finite(value)
    if not 0.0 <= number <= 1.0:
        raise ConfigError(f"{name} must be a number from 0 to 1, got {value!r}.")
    return number


def port(name: str, value: Any) -> int:
    """A TCP port a server can listen on: 1 to 65,535 (0 would be a random one nobody is told about)."""
    return whole_number(name, value, low=1, high=MAX_PORT)


def amount(name: str, value: Any, unit: str) -> float:
    """``value`` as a finite number, 0 or more (a price, a share): ``unit`` says what it counts."""
    number = _finite(value)
    if not number >= 0:
        raise ConfigError(f"{name} must be {unit}, a finite number 0 or more, got {value!r}.")
    return number


def one_of(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` as one of ``choices`` (compared without case or surrounding spaces)."""
    text = str(value).strip().lower()
    if text not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}.")
    return text


def device_name(name: str, value: Any) -> str:
    """A device of the form ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (whether it exists is
    :func:`mmrag_lab.encoders.pick_device`'s question)."""
    text = str(value).strip().lower()
    if not DEVICE.fullmatch(text):
        raise ConfigError(f"{name} must be auto, cpu, cuda, cuda:N or mps, got {value!r}.")
    return text


def collection_name(name: str, value: Any) -> str:
    """A collection name Milvus accepts: a letter or ``_`` first, then letters, digits and ``_``."""
    text = str(value)
    if not COLLECTION_NAME.fullmatch(text) or len(text) > MAX_COLLECTION_NAME:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ConfigError(
            f"{name} {shown!r} is not a name Milvus accepts: use letters, digits and underscores, starting "
            f"with a letter or underscore, at most {MAX_COLLECTION_NAME} characters (e.g. my_images)."
        )
    return text


def milvus_uri(name: str, value: Any) -> str:
    """A server address with a known scheme, or a local path; other schemes (``ftp://``) are refused."""
    text = str(value).strip()
    found = URI_SCHEME.match(text)
    if not text:
        raise ConfigError(f"{name} is empty; give a Milvus Lite file (./mmrag_lab.db) or http://host:port.")
    if found and found[1].lower() not in KNOWN_SCHEMES:
        raise ConfigError(
            f"{name}: the scheme {found[1]!r}:// is not one Milvus speaks; give a Milvus Lite file "
            "(a path ending in .db, e.g. ./mmrag_lab.db) or a server address http(s)://host:port."
        )
    return text


def http_url(name: str, value: Any) -> str:
    """An ``http(s)://host[:port][/path]`` address (the reranker's endpoint)."""
    text = str(value).strip()
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise ConfigError(f"{name} must be an http(s)://host[:port][/path] address, got {value!r}.")
    return text


def instruction(name: str, value: str | None, limit: int = MAX_INSTRUCTION_CHARS) -> str | None:
    """A query text (see :func:`text`) of at most ``limit`` characters (the encoder reads a few hundred tokens)."""
    if text(name, value) is not None and len(value) > limit:
        raise ConfigError(
            f"{name} has {len(value):,} characters; the limit is {limit:,} (the encoder reads only the first "
            "few hundred tokens). Shorten it."
        )
    return value


def output_folder(name: str, value: str | os.PathLike) -> Path:
    """A folder to write into: it may exist as a folder or not yet; never an existing file, "" or a URL, and
    the nearest folder that exists must take a new file now (so that no work is done before a failed write)."""
    path = Path(os.path.expanduser(local_path(name, value, output=True)))
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{name} {str(path)!r} is an existing file; name a folder (it is created if missing)."
        )
    _writable(name, path, path)
    return path


def output_file(name: str, value: str | os.PathLike) -> Path:
    """A file to write: not a folder, and its folder (or the nearest one that exists) takes a new file now."""
    path = Path(os.path.expanduser(os.fspath(value)))
    if not str(value).strip():
        raise ConfigError(f"{name} is empty; name a file to write.")
    if path.is_dir():
        raise ConfigError(f"{name} {str(path)!r} is a folder; name a file.")
    _writable(name, path, path.absolute().parent)
    return path


def _writable(name: str, path: Path, folder: Path) -> None:
    """Refuse ``path`` when the nearest existing folder at or above ``folder`` is a file or takes no file."""
    where = next((p for p in (folder.absolute(), *folder.absolute().parents) if p.exists()), None)
    if where is None:
        return
    if not where.is_dir():
        raise ConfigError(f"{name} {str(path)!r} lies under {str(where)!r}, which is a file; name a folder.")
    try:
        with tempfile.TemporaryFile(dir=where):  # the real test: permissions, read-only mounts, quotas
            pass
    except OSError as exc:
        raise ConfigError(
            f"{name} {str(path)!r}: nothing can be written in {str(where)!r} ({exc.strerror or exc}); "
            "name a place you can write to."
        ) from None


def existing_file(name: str, value: str | os.PathLike) -> Path:
    """A file that exists (not a folder); "" (the current folder) and URLs (nothing is downloaded) are
    refused by :func:`mmrag_lab.argtypes.local_path`."""
    path = Path(os.path.expanduser(local_path(name, value)))
    if path.is_dir():
        raise ConfigError(f"{name} {str(path)!r} is a folder; give a file.")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{name} {str(path)!r} is not a regular file (a pipe or a device); give a file.")
    if not path.is_file():
        raise ConfigError(f"{name} {str(path)!r} does not exist; check the path.")
    return path
