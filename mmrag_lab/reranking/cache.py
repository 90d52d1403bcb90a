"""A disk cache of reranker replies, so that re-running a notebook costs no tokens.

One JSON file per request, named by the SHA-256 of the endpoint's base URL, the model and the whole request:
the messages (system and user text, the panorama's JPEG bytes as its data URL), the response format,
temperature, max tokens and seed. Two endpoints serving the same model name never share an entry, and any
change to what is asked is a new entry. Files are written atomically (temporary file in the same folder,
then rename). They hold the reply text, the model and the token usage; never the API key, the endpoint URL
or the picture.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from mmrag_lab.reranking.llm import ChatReply, Usage

log = logging.getLogger(__name__)
FORMAT = 2


def cache_key(endpoint: str, model: str, request: dict[str, Any]) -> str:
    """The cache key of one rerank request (see the module docstring for what it covers)."""
    blob = json.dumps(
        {"format": FORMAT, "endpoint": endpoint.rstrip("/"), "model": model, "request": request},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


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
