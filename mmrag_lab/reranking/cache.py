"""A disk cache of reranker replies, so that re-running a notebook costs no tokens.

One JSON file per request, named by ``sha256(model, prompt, panorama JPEG bytes)``. Files are written
atomically (temporary file in the same folder, then rename). They hold the reply text, the model and the
token usage; never the API key, the endpoint URL or the picture.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from mmrag_lab.reranking.llm import ChatReply, Usage

log = logging.getLogger(__name__)
FORMAT = 1


def cache_key(model: str, prompt: str, jpeg: bytes) -> str:
    """The cache key of one rerank request."""
    digest = hashlib.sha256()
    for part in (model.encode(), prompt.encode(), jpeg):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class ReplyCache:
    """Reply files under one folder; a missing or corrupt file is simply a miss."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> ChatReply | None:
        """The stored reply for ``key``, or None."""
        try:
            data = json.loads(self.path(key).read_text(encoding="utf-8"))
            usage = Usage(**{k: int(v) for k, v in data["usage"].items()})
            return ChatReply(
                text=str(data["text"]),
                model=str(data["model"]),
                usage=usage,
                latency_s=float(data["latency_s"]),
                attempts=0,
                structured=bool(data["structured"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable rerank cache file %s (%s)", self.path(key), exc)
            return None

    def store(self, key: str, reply: ChatReply, prompt: str) -> None:
        """Write ``reply`` for ``key``; a failure to write is logged, never raised."""
        record = {
            "format": FORMAT,
            "model": reply.model,
            "text": reply.text,
            "usage": vars(reply.usage),
            "latency_s": reply.latency_s,
            "structured": reply.structured,
            "prompt": prompt,
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump(record, stream, ensure_ascii=False, indent=1)
                os.replace(temp, self.path(key))
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("could not write rerank cache file in %s (%s)", self.folder, exc)
