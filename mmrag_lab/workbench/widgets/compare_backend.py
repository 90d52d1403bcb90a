"""The work behind :class:`mmrag_lab.workbench.widgets.compare_app.CompareApp`: the collections on a URI, each
with its encoder, and one query searched in two of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError
from mmrag_lab.images import ImageSource
from mmrag_lab.store.vector_store import Store
from mmrag_lab.workbench.widgets.search_backend import AppBackend


@dataclass(frozen=True)
class CollectionChoice:
    """A collection made by mmrag_lab, as the compare view lists it."""

    name: str
    encoder: str
    untrained: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({self.encoder}{', untrained' if self.untrained else ''})"


def list_collections(config: Config) -> list[CollectionChoice]:
    """The collections on ``config.milvus_uri`` that mmrag_lab made (they carry a record), sorted by name."""
    out = []
    with Store.open(config) as store:
        names = store.collections()
    for name in names:
        with Store.open(config, collection=name) as store:
            record = store.record()
        if record is not None:
            out.append(CollectionChoice(name, record.encoder, bool(record.untrained)))
    return out


def search_both(
    config: Config, names: tuple[str, str], query: ImageSource, instruction: str, k: int
) -> tuple[Any, Any]:
    """The same query searched in two collections, each with the encoder that made it.

    Raises:
        ConfigError: The two names are the same collection, or one is not chosen.
        StoreError: A collection is missing or empty.
    """
    if not all(names):
        raise ConfigError("Choose a collection on each side first.")
    if names[0] == names[1]:
        raise ConfigError(f"Both sides are {names[0]!r}: choose two different collections to compare.")
    return tuple(AppBackend(config.with_overrides(collection=n)).search(query, instruction, k) for n in names)


def shared_paths(left: Any, right: Any) -> set[str]:
    """The image paths that both results hold."""
    return {str(h.path) for h in left} & {str(h.path) for h in right}
