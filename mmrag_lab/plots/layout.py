"""Sizes and labels shared by every figure: how wide, how large the text, how grids and captions fit."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

# Figures are drawn for a notebook column of about 1000 px: at most FIG_WIDTH inches at 100 dpi, text at
# least 10 pt, so that nothing shrinks below ~10 px when JupyterLab scales the picture down to its column.
FIG_WIDTH = 9.6
TEXT_PT = 10


def short_name(path: Any, width: int = 22) -> str:
    name = Path(str(path)).name if path is not None else ""
    return name if len(name) <= width else name[: width - 3] + "..."


def caption(hit: Any, width: int = 18) -> str:
    """A tile's caption on at most two lines of ``width`` characters: the hit's metadata title (or
    category) when it has one, else its file name."""
    meta = getattr(hit, "meta", None) or {}
    text = str(meta.get("title") or meta.get("category") or "")
    if not text:
        return short_name(getattr(hit, "path", None), width)
    return textwrap.fill(text, width, max_lines=2, placeholder="...")


def grid_shape(n: int, max_cols: int) -> tuple[int, int]:
    """``(rows, cols)`` for ``n`` tiles: as few rows as ``max_cols`` allows, filled evenly (k=6: 2x3)."""
    rows = max(1, math.ceil(n / max(1, max_cols)))
    return rows, max(1, math.ceil(n / rows))
