"""The app's "more like this / less like this" panel: a like/unlike toggle per shown hit, read by Refine.

The toggles follow the order on screen: the retrieval order, or the reranked order after a rerank, so a
refine after a rerank starts from the judgements made on the reranked grid.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as widgets

NEUTRAL, LIKE, UNLIKE = "–", "like", "unlike"


class JudgePanel:
    """One row per shown hit: its position and file name, and a toggle ``– / like / unlike``."""

    def __init__(self) -> None:
        self.hits: list[Any] = []
        self.toggles: list[widgets.ToggleButtons] = []
        self.ui = widgets.VBox()

    def show(self, hits: list[Any]) -> None:
        """Offer a toggle for each of ``hits`` (in the order the grid shows them)."""
        self.hits = list(hits)
        self.toggles = [
            widgets.ToggleButtons(
                options=[NEUTRAL, LIKE, UNLIKE],
                value=NEUTRAL,
                description=f"{position}. {Path(str(hit.path)).name}",
                tooltips=["no judgement", "more like this", "less like this"],
                style={"description_width": "340px", "button_width": "70px"},
                layout={"width": "auto", "flex": "0 0 auto"},
            )
            for position, hit in enumerate(self.hits, start=1)
        ]
        self.ui.children = self.toggles

    def clear(self) -> None:
        self.hits, self.toggles, self.ui.children = [], [], ()

    def judged(self) -> tuple[list[Any], list[Any]]:
        """The hits toggled ``like`` and those toggled ``unlike``."""
        pairs = list(zip(self.hits, (toggle.value for toggle in self.toggles), strict=True))
        return [hit for hit, value in pairs if value == LIKE], [
            hit for hit, value in pairs if value == UNLIKE
        ]


def round_summary(results: Any, names: dict[str, str]) -> str:
    """``Round N: liked a.jpg; unliked b.jpg`` for refined results (HTML, escaped); "" for a first search."""
    if not getattr(results, "round", 0):
        return ""

    def shown(ids: list[str]) -> str:
        return ", ".join(html.escape(names.get(key, key[:8])) for key in ids) or "none"

    return (
        f"<b>Round {results.round}</b> (Rocchio): liked {shown(results.liked)}; unliked "
        f"{shown(results.unliked)}. Judged images are left out of the grid."
    )
