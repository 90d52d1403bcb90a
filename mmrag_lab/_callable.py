"""Let ``mmrag_lab.ingest(...)``, ``.search(...)``, ``.rerank(...)`` and ``.evaluate(...)`` be called.

Each of these public functions lives in a module of the same name. Once such a module is imported, Python
binds the package attribute (``mmrag_lab.search``) to the module, shadowing the function the package exports.
Making those modules callable keeps both spellings working: ``mmrag_lab.search(...)`` and
``from mmrag_lab.search import SearchResults``.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, self.__name__.rsplit(".", 1)[-1])(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Calling module ``a.b.name`` calls its function ``name``."""
    sys.modules[module_name].__class__ = _CallableModule
