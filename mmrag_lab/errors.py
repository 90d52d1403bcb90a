"""The project's error hierarchy. Every message says what to do next."""

from __future__ import annotations


class MmragError(Exception):
    """Base class for every error raised on purpose by mmrag_lab."""


class ConfigError(MmragError):
    """A setting is missing or has a value that cannot work."""


class WeightsError(MmragError):
    """Model weights could not be found, downloaded or loaded."""


class CheckpointMismatchError(WeightsError):
    """A checkpoint's parameters do not match the model's layout."""

    def __init__(self, missing: list[str], unexpected: list[str], shape_mismatch: list[str] | None = None):
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.shape_mismatch = list(shape_mismatch or [])
        parts = []
        if self.missing:
            parts.append(f"missing {len(self.missing)} parameter(s): {_preview(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected {len(self.unexpected)} parameter(s): {_preview(self.unexpected)}")
        if self.shape_mismatch:
            parts.append(f"wrong shape for {len(self.shape_mismatch)}: {_preview(self.shape_mismatch)}")
        super().__init__(
            "The checkpoint does not fit this encoder preset; "
            + "; ".join(parts)
            + ". Check that the file and the preset belong together (e.g. Visualized_base_en_v1.5.pth "
            "with 'visualized-bge-base', Visualized_m3.pth with 'visualized-bge-m3')."
        )


class ImageLoadError(MmragError):
    """An image file could not be read or decoded."""

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class StoreError(MmragError):
    """The vector store could not be reached or used."""


class StoreFailedError(StoreError):
    """The store refused or failed a call in the middle of the work: the job could not finish (the CLI exits
    1, not 2); the message names the call and Milvus' reason, and re-running resumes."""


class CollectionMismatchError(StoreError):
    """A collection was made by another encoder, dimension or metric."""


class CollectionNotFoundError(StoreError):
    """The collection does not exist; the message says how to make it (ingest first)."""


class ForeignCollectionError(CollectionMismatchError):
    """The collection was not made by mmrag_lab."""


class EncoderMismatchError(CollectionMismatchError):
    """The collection's vectors come from another encoder than the one given; the message names both."""


class SchemaOutdatedError(CollectionMismatchError):
    """The collection was made by an older mmrag_lab; the message names the command that migrates it."""


class StoreLockedError(StoreError):
    """A Milvus Lite file is held by another process."""


class StoreStalledError(StoreError):
    """The store's server is alive but did not answer in time; the message says what to do."""


class StoreGoneError(StoreError):
    """The database was deleted or replaced while in use (a Milvus Lite folder); the next run starts afresh."""


class RerankError(MmragError):
    """The reranker's endpoint refused the request in a way a retry cannot fix."""


class AuthenticationError(RerankError):
    """The LLM endpoint rejected the credentials."""


class EvaluationError(MmragError):
    """A query set or an evaluation run is malformed."""


class QueryError(MmragError):
    """A search query or filter is malformed."""


class TextSearchUnsupportedError(ConfigError):
    """The backend cannot hold analysed text with BM25 or fuse searches (the Milvus 2.3 server): refused
    before any work, with a message naming what is needed (a usage error, exit 2)."""


class FilterRefusedError(QueryError, StoreError):
    """Milvus refused a search with the caller's raw filter expression: the message quotes it (a usage
    error, exit 2). A :class:`StoreError` too, as the refusal was before this class."""


def _preview(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")


class UntrainedWeightsWarning(UserWarning):
    """The encoder runs on deterministic untrained weights: its vectors carry no meaning."""


class StoreRepairedWarning(UserWarning):
    """The store cleared the remains of an interrupted write (e.g. of a deleted Lite folder) to go on."""


class IgnoredSettingWarning(UserWarning):
    """A setting was given where it has no effect (e.g. a Milvus token with a Milvus Lite file)."""
