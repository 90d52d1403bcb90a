"""The notebooks' parameters, checked before a kernel starts (papermill runs) and again inside ``setup()``.

A value that cannot work (``K = -3``, ``DEVICE = "gpu"``, a ``DATA_DIR`` that does not exist) is refused
with one :class:`~mmrag_lab.errors.ConfigError` naming the parameter as the parameters cell spells it, so
a papermill run ends with that line instead of a traceback from deep inside a later cell.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from mmrag_lab import checks
from mmrag_lab.errors import ConfigError
from mmrag_lab.preset_names import preset_name


def _folder(name: str, value: Any) -> None:
    if not os.path.isdir(os.path.expanduser(str(value))):
        raise ConfigError(f"{name}: {value!r} is not an existing folder; give the folder's path, or None.")


def _path(name: str, value: Any) -> None:
    if not os.path.exists(os.path.expanduser(str(value))):
        raise ConfigError(f"{name}: {value!r} does not exist; check the path, or give None.")


def _count(low: int, high: int) -> Callable[[str, Any], None]:
    return lambda name, value: checks.whole_number(name, value, low=low, high=high) and None


def _ks(name: str, value: Any) -> None:
    for item in value if isinstance(value, (list, tuple)) else [value]:
        checks.whole_number(name, item, high=16384)


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}.")


def _engine(name: str, value: Any) -> None:
    if value not in ("local", "ray"):
        raise ConfigError(f"{name} must be 'local' or 'ray', got {value!r}.")


def _ray_address(name: str, value: Any) -> None:
    if not isinstance(value, str) or not (value == "auto" or value.startswith("ray://")):
        raise ConfigError(f"{name} takes None, 'auto' or 'ray://host:port', got {value!r}.")


def _price(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{name} is a price in USD per 1M tokens, 0 or more, got {value!r}.")


def _text(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a text, got {value!r}.")
    checks.instruction(name, value)


# parameter -> check of a value that is not None (None always means: the default)
RULES: dict[str, Callable[[str, Any], Any]] = {
    "DATA_DIR": _folder,
    "METADATA": _path,
    "QUERY_IMAGE": _path,
    "QUERIES": _path,
    "URI": checks.milvus_uri,
    "COLLECTION": checks.collection_name,
    "ENCODER": preset_name,
    "DEVICE": checks.device_name,
    "BASE_URL": checks.http_url,
    "INSTRUCTION": _text,
    "K": _ks,
    "TOP_N": _count(1, 100),
    "THUMBNAILS": _count(0, 10_000),
    "MAX_VECTORS": _count(1, 10_000_000),
    "PAIRS": _count(0, 1_000),
    "WORST": _count(0, 1_000),
    "FEEDBACK_ROUNDS": _count(0, 100),
    "FEEDBACK_K": _count(1, 1_000),
    "PRUNE": _flag,
    "ENGINE": _engine,
    "RAY_ADDRESS": _ray_address,
    "INGEST": _flag,
    "ANN": _flag,
    "RERANK": _flag,
    "PRICE_IN": _price,
    "PRICE_OUT": _price,
}


def check_values(parameters: Mapping[str, Any], notebook: str = "") -> None:
    """Refuse the first parameter whose value cannot work; parameters without a rule pass unchanged.

    Raises:
        ConfigError: Names the notebook (when given), the parameter and what would work.
    """
    where = f"{notebook}: " if notebook else ""
    for name, value in parameters.items():
        rule = RULES.get(name)
        if rule is not None and value is not None:
            rule(f"{where}notebook parameter {name}", value)
