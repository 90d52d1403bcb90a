"""The typed parts of an evaluation run, one per JSON file of its folder.

Each part is a dataclass with named fields and also a read-only mapping over its JSON document, so
``run.metrics.timing.encode_s`` and ``run.metrics["timing"]["encode_s"]`` read the same value, and
``as_dict()`` is exactly what the run folder holds. Keys a part does not name (a newer or older file) are
kept in ``extra`` and written back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mmrag_lab.encoders.base import EncoderInfo


class _Document(Mapping):
    """A JSON document seen through a dataclass: subclasses implement ``as_dict``."""

    def as_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each step; a step that did not run is None (and absent from ``metrics.json``)."""

    read_vectors_s: float | None = None
    encode_s: float | None = None
    exact_search_s: float | None = None
    ann_search_s: float | None = None
    rerank_s: float | None = None
    total_s: float | None = None

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> Timings:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class QueryCounts:
    """What happened to the loaded queries: how many were encoded, which failed, how they matched."""

    n_loaded: int
    n_encoded: int
    failed_query_images: dict[str, str]
    match: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class RunConfig(_Document):
    """``config.json``: the public settings (no secrets), the evaluation settings, the query source."""

    settings: dict[str, Any]
    evaluation: dict[str, Any]
    queries: str
    untrained: bool

    def as_dict(self) -> dict[str, Any]:
        own = {"evaluation": self.evaluation, "queries": self.queries, "untrained": self.untrained}
        return {**self.settings, **own}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        own = ("evaluation", "queries", "untrained")
        rest = {k: v for k, v in data.items() if k not in own}
        return cls(rest, data["evaluation"], data["queries"], bool(data.get("untrained")))


@dataclass(frozen=True, eq=False)
class RunEncoder(_Document):
    """``encoder.json``: the encoder's identity and the metric of the collection it searched."""

    info: EncoderInfo
    collection_metric: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**self.info.as_dict(), "collection_metric": self.collection_metric, **self.extra}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunEncoder:
        names = {f.name for f in fields(EncoderInfo)}
        info = EncoderInfo(**{k: v for k, v in data.items() if k in names})
        extra = {k: v for k, v in data.items() if k not in names and k != "collection_metric"}
        return cls(info, data["collection_metric"], extra)


@dataclass(eq=False)
class RunMetrics(_Document):
    """``metrics.json``: everything measured; the rerank and submission fields are None when not asked for."""

    untrained: bool
    retrieval: dict[str, Any]
    settings: dict[str, Any]
    queries: QueryCounts
    timing: Timings
    index_recall: dict[str, Any] | None = None
    reranked: dict[str, Any] | None = None
    rerank: dict[str, Any] | None = None
    rank_moves: dict[str, int] | None = None
    submission_files: list[str] | None = None
    submission_warning: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"untrained": self.untrained, "retrieval": self.retrieval}
        out["settings"] = self.settings
        optional = {"index_recall": self.index_recall, "reranked": self.reranked, "rerank": self.rerank}
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.rank_moves is not None:
            out["rank_moves"] = self.rank_moves
        out["queries"] = self.queries.as_dict()
        out["timing"] = self.timing.as_dict()
        if self.submission_files is not None:
            out["submission_files"] = self.submission_files
            out["submission_warning"] = self.submission_warning
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunMetrics:
        named = {f.name for f in fields(cls)} - {"extra"}
        given = {k: v for k, v in data.items() if k in named}
        given["untrained"] = bool(given.get("untrained"))
        given["queries"] = QueryCounts(**data["queries"])
        given["timing"] = Timings.from_dict(data.get("timing", {}))
        return cls(**given, extra={k: v for k, v in data.items() if k not in named})
