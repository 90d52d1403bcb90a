"""What a search returns: typed hits, and the query and encoder they came from."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, overload

from mmrag_lab.errors import MmragError, QueryError
from mmrag_lab.terminal import printable

BASE_COLUMNS = ("rank", "id", "path", "score", "width", "height", "file_size")
UNTRAINED_NOTE = "UNTRAINED WEIGHTS: these scores and this order mean nothing"


@dataclass(frozen=True)
class Hit:
    """One search hit. ``rank`` starts at 1; ``score`` is a similarity (higher is better).

    ``found_by`` names the requests that found it, each with its rank and score there: ``dense`` (the
    query vector) and ``keywords`` (BM25); with both, ``score`` is the fused score. ``judgement`` is
    ``liked`` or ``unliked`` for a judged row kept in refined results (``keep_judged=True``).
    """

    rank: int
    id: str
    path: str
    score: float
    width: int = 0
    height: int = 0
    file_size: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    found_by: dict[str, dict[str, float]] = field(default_factory=dict)
    judgement: str = ""

    @classmethod
    def from_row(cls, rank: int, row: dict[str, Any]) -> Hit:
        """A hit from one row as :meth:`mmrag_lab.store.vector_store.Store.search` returns it."""
        return cls(
            rank=rank,
            id=str(row["id"]),
            path=str(row.get("path", "")),
            score=float(row["score"]),
            width=int(row.get("width") or 0),
            height=int(row.get("height") or 0),
            file_size=int(row.get("file_size") or 0),
            meta=dict(row.get("meta") or {}),
            content_hash=str(row.get("content_hash") or ""),
            found_by=dict(row.get("found_by") or {}),
            judgement=str(row.get("judgement") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchQuery:
    """What was asked: ``mode`` is ``composed``, ``image``, ``text``, ``keywords`` (BM25 alone) or
    ``feedback`` (liked rows alone); ``fusion`` is set when keywords were fused with a vector."""

    mode: str
    k: int
    instruction: str | None = None
    text: str | None = None
    image_path: str | None = None
    filter: str = ""
    keywords: str | None = None
    fusion: str | None = None


@dataclass
class SearchResults:
    """The hits of one search, best first, with the query and the encoder that made the vectors.

    Iterate it for :class:`Hit` objects; ``len()``, indexing and slicing work like on a list.
    """

    hits: list[Hit]
    query: SearchQuery
    encoder: str
    untrained: bool
    collection: str
    timings: dict[str, float] = field(default_factory=dict)
    round: int = 0
    liked: list[str] = field(default_factory=list)
    unliked: list[str] = field(default_factory=list)
    _refiner: Callable[..., SearchResults] | None = field(default=None, repr=False, compare=False)

    def refine(
        self,
        like: Sequence[Any] = (),
        unlike: Sequence[Any] = (),
        *,
        keep_judged: bool = False,
        order: Sequence[Hit] | None = None,
    ) -> SearchResults:
        """Search again, moved toward the ``like`` rows and away from the ``unlike`` ones (Rocchio; see
        :mod:`mmrag_lab.retrieval.feedback`). Judgements add up over rounds; ``round`` counts them.

        Args:
            like: Hits, stored paths, row ids, or positions (1 = first) in ``order``.
            unlike: The same, for rows to move away from.
            keep_judged: Keep judged rows among the hits (marked in ``Hit.judgement``); default left out.
            order: The order positions refer to: default these hits; after a rerank, ``reranked.hits``.

        Raises:
            QueryError: A position outside ``order``, or a path or id not stored.
        """
        if self._refiner is None:
            raise MmragError("Only results that search() returned can be refined; search again first.")
        shown = list(order if order is not None else self.hits)
        return self._refiner(self, _refs(like, shown), _refs(unlike, shown), keep_judged)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @overload
    def __getitem__(self, index: int) -> Hit: ...
    @overload
    def __getitem__(self, index: slice) -> list[Hit]: ...
    def __getitem__(self, index):
        return self.hits[index]

    @property
    def instruction(self) -> str | None:
        return self.query.instruction

    @property
    def query_image(self) -> str | None:
        return self.query.image_path

    @property
    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per hit (``meta`` kept as a dict), ready for JSON."""
        return [hit.to_dict() for hit in self.hits]

    def to_dict(self) -> dict[str, Any]:
        """The whole result (query, encoder, untrained flag, timings, hits) as plain data."""
        return {
            "query": asdict(self.query),
            "encoder": self.encoder,
            "untrained": self.untrained,
            "collection": self.collection,
            "timings": dict(self.timings),
            "round": self.round,
            "liked": list(self.liked),
            "unliked": list(self.unliked),
            "hits": self.to_records(),
        }

    def to_table(self):
        """A pandas DataFrame, one row per hit, metadata keys as ``meta.<key>`` columns.

        Raises:
            MmragError: pandas is not installed (use :meth:`to_records` or :meth:`to_text`).
        """
        try:
            import pandas as pd
        except ImportError:
            raise MmragError(
                "to_table() needs pandas: pip install pandas, or use to_records()/to_text()"
            ) from None
        rows = [
            {k: v for k, v in r.items() if k != "meta"} | _meta_columns(r["meta"]) for r in self.to_records()
        ]
        frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(BASE_COLUMNS))
        frame.attrs.update(untrained=self.untrained, encoder=self.encoder)
        return frame

    def to_text(self, path_width: int = 60) -> str:
        """A fixed-width table for terminals."""
        lines = [UNTRAINED_NOTE] if self.untrained else []
        if self.round:
            lines.append(
                f"round {self.round}: {len(self.liked)} liked, {len(self.unliked)} unliked (Rocchio)"
            )
        lines.append(f"{'rank':>4}  {'score':>7}  {'size':>9}  {'path':<{path_width}}  meta")
        for hit in self.hits:  # names and values shown escaped: one row each, no terminal escapes
            shown = printable(hit.path)
            path = shown if len(shown) <= path_width else "..." + shown[-(path_width - 3) :]
            size = f"{hit.width}x{hit.height}"
            meta = ", ".join(f"{printable(k)}={printable(v)}" for k, v in hit.meta.items())
            found = _found_text(hit) if self.query.keywords else ""
            lines.append(f"{hit.rank:>4}  {hit.score:>7.4f}  {size:>9}  {path:<{path_width}}  {meta}{found}")
        if not self.hits:
            lines.append("(no hits)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        head = f"<p style='color:#b00020;font-weight:bold'>{UNTRAINED_NOTE}</p>" if self.untrained else ""
        cells = "".join(
            f"<tr><td>{h.rank}</td><td>{h.score:.4f}</td><td>{h.width}x{h.height}</td>"
            f"<td>{html.escape(h.path)}</td><td>{html.escape(str(h.meta))}</td></tr>"
            for h in self.hits
        )
        header = "<tr><th>rank</th><th>score</th><th>size</th><th>path</th><th>meta</th></tr>"
        return f"{head}<table>{header}{cells}</table>"


def _found_text(hit: Hit) -> str:
    parts = [f"{name} #{int(seen['rank'])} ({seen['score']:.4f})" for name, seen in hit.found_by.items()]
    return f"  [found by {', '.join(parts) or 'fusion only'}]" + (
        f" [{hit.judgement}]" if hit.judgement else ""
    )


def _refs(items: Sequence[Any], shown: list[Hit]) -> list[Any]:
    out = []
    for item in [items] if isinstance(items, (str, int, Hit)) else items:
        if isinstance(item, int) and not isinstance(item, bool):
            if not 1 <= item <= len(shown):
                raise QueryError(
                    f"Position {item} is not among the {len(shown)} hits shown (1 to {len(shown)})."
                )
            item = shown[item - 1]
        out.append(item)
    return out


def _meta_columns(meta: dict[str, Any]) -> dict[str, Any]:
    return {f"meta.{key}": value for key, value in meta.items()}
