"""What a notebook records for tests and batch users: key values as JSON, figures as PNG, in a run folder.

A notebook makes one :class:`Recorder` from its ``RUN_DIR`` parameter. With ``RUN_DIR`` empty (a person
working in JupyterLab) nothing is written and every call just hands its input back, so the same cells serve
interactive and headless runs. Layout of a run folder::

    runs/<timestamp>/02_search.ipynb        the executed notebook (written by papermill)
    runs/<timestamp>/02_search.json         everything the notebook recorded, figures described
    runs/<timestamp>/figures/02_search-results.png
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mmrag_lab.plots.figures import UNTRAINED_MARK


class Recorder:
    """Records one notebook's key values and figures into ``run_dir``.

    Args:
        run_dir: The run folder; None or ``""`` records nothing.
        notebook: Name of the notebook (file stem), used in every file name.
    """

    def __init__(self, run_dir: str | os.PathLike | None, notebook: str):
        self.run_dir = Path(run_dir) if run_dir else None
        self.notebook = notebook
        self.values: dict[str, Any] = {}

    @property
    def path(self) -> Path | None:
        """The JSON file this recorder writes, or None when recording is off."""
        return self.run_dir / f"{self.notebook}.json" if self.run_dir else None

    def record(self, name: str, **values: Any) -> None:
        """Store ``values`` under ``name`` (JSON-safe copies) and rewrite the JSON file."""
        self.values[name] = to_jsonable(values)
        self._write()

    def save_figure(self, fig: Figure, name: str, dpi: int = 100) -> Figure:
        """Write ``fig`` as ``figures/<notebook>-<name>.png``, record what it shows, and return it."""
        entry = describe_figure(fig)
        if self.run_dir is not None:
            target = self.run_dir / "figures" / f"{self.notebook}-{name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(target, dpi=dpi, bbox_inches="tight")
            entry["png"] = str(target.relative_to(self.run_dir))
        self.values.setdefault("figures", {})[name] = entry
        self._write()
        return fig

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"notebook": self.notebook, **self.values}, indent=2, ensure_ascii=False)
        self.path.write_text(text + "\n", encoding="utf-8")


def load_record(run_dir: str | os.PathLike, notebook: str) -> dict[str, Any]:
    """Read what a notebook recorded in a run folder."""
    return json.loads((Path(run_dir) / f"{notebook}.json").read_text(encoding="utf-8"))


def to_jsonable(value: Any) -> Any:
    """A JSON-safe copy: numpy values become numbers and lists, objects with ``to_dict`` become dicts."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    for method in ("to_dict", "as_dict"):
        if callable(getattr(value, method, None)):
            return to_jsonable(getattr(value, method)())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    return str(value)


def describe_figure(fig: Figure) -> dict[str, Any]:
    """What a figure shows, as plain data: titles, panel titles, and how many pictures it holds."""
    axes: Iterable[Axes] = fig.get_axes()
    panels = [ax.get_title(loc) for ax in axes for loc in ("left", "center", "right") if ax.get_title(loc)]
    suptitles = _suptitles(fig)
    width, height = fig.get_size_inches()
    return {
        "title": "\n".join(suptitles),
        "panel_titles": panels,
        "images": sum(len(ax.images) for ax in fig.get_axes()),
        "thumbnails": sum(len(ax.artists) for ax in fig.get_axes()),
        "untrained_mark": any(UNTRAINED_MARK in title for title in suptitles),
        "size_inches": [round(float(width), 2), round(float(height), 2)],
    }


def _suptitles(fig: Any) -> list[str]:
    found = [fig.get_suptitle()] if fig.get_suptitle() else []
    for sub in getattr(fig, "subfigs", []):
        found += _suptitles(sub)
    return found
