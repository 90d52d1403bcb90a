"""Which collection a public call works on: ``config.collection``, or the one its ``collection=`` names.

``ingest``, ``search``, ``evaluate`` and ``collection_summary`` all take ``collection=``; a store given to
the same call must be open on that collection, or the call is refused before any work.
"""

from __future__ import annotations

from typing import Any

from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError


def target_config(config: Config | None, collection: str | None, store: Any = None) -> Config:
    """``config`` (default ``Config.load()``) with ``collection`` in place when given.

    Raises:
        ConfigError: ``collection`` is not a name Milvus accepts, or ``store`` is open on another collection.
    """
    cfg = config or Config.load()
    if collection is None:
        return cfg
    cfg = cfg.with_overrides(collection=collection)
    if store is not None and store.collection != cfg.collection:
        raise ConfigError(
            f"collection={collection!r}, but the store given is open on {store.collection!r}; give one of "
            "them (a store opened on that collection, or collection= alone)."
        )
    return cfg
