"""How each setting's value is read and checked, wherever it comes from (``MMRAG_*``, a CLI option, an
argument): one check per field that a user can get wrong, with messages naming where the value came from."""

from __future__ import annotations

import os
from typing import Any

from mmrag_lab import argtypes, checks
from mmrag_lab.errors import ConfigError
from mmrag_lab.preset_names import preset_name

# torch.compile's modes; ingest's default, reduce-overhead, replays CUDA graphs
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def _local(name: str, value: Any) -> str:
    return argtypes.local_path(name, value) and os.fsdecode(value)


# field -> check, for every field whose value a user can get wrong (see mmrag_lab.checks)
_CHECKS = {
    "batch_size": lambda n, v: checks.whole_number(n, v, high=65_536),
    "llm_max_retries": lambda n, v: checks.whole_number(n, v, low=0, high=20),
    "milvus_attempts": lambda n, v: checks.whole_number(n, v, high=20),
    "llm_timeout": checks.seconds,
    "llm_connect_timeout": checks.seconds,
    "milvus_connect_timeout": checks.seconds,
    "milvus_timeout": checks.seconds,
    "lite_idle_timeout": lambda n, v: checks.seconds(n, v, allow_zero=True),
    "device": checks.device_name,
    "encoder": preset_name,
    "weights": _local,  # a path or "untrained"
    "text_model": _local,  # a folder or a hub id
    "cache_dir": _local,
    "llm_model": lambda n, v: argtypes.text(n, v, optional=False),
    "milvus_token": lambda n, v: argtypes.text(n, v, optional=False),
    "milvus_uri": lambda n, v: checks.milvus_uri(
        n, _local(n, v) if isinstance(v, os.PathLike) else argtypes.text(n, v, optional=False)
    ),
    "metric": lambda n, v: checks.one_of(n, v, ("cosine", "ip", "l2")).upper(),
    "index_type": lambda n, v: argtypes.text(n, v, optional=False),
    "llm_base_url": checks.http_url,
    "collection": lambda n, v: checks.collection_name(n, v) if v else "",
    "app_max_upload_mb": checks.megabytes,
    "compile_mode": lambda n, v: checks.one_of(n, v, COMPILE_MODES),
    "app_idle_timeout": lambda n, v: checks.seconds(n, v, allow_zero=True),  # 0: never culled
    "app_max_kernels": lambda n, v: checks.whole_number(n, v, low=0, high=1_000),  # 0: no cap
}
_SWITCHES = {"auto": "auto", "on": "on", "true": "on", "1": "on", "yes": "on",
             "off": "off", "false": "off", "0": "off", "no": "off"}  # fmt: skip


def coerce(name: str, value: Any, source: str) -> Any:
    """``value`` checked and converted for field ``name``; ``source`` (``MMRAG_BATCH_SIZE``, ``--batch-size``,
    ``batch_size``) is where it came from, and what a message names."""
    if name == "compile":
        word = ("on" if value else "off") if isinstance(value, bool) else str(value).strip().lower()
        if word not in _SWITCHES:
            raise ConfigError(f"{source} must be auto, on or off, got {value!r}.")
        return _SWITCHES[word]
    check = _CHECKS.get(name)
    return value if check is None else check(source, value)
