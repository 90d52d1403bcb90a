"""Per-image metadata from a sidecar file: CSV or JSON Lines, keyed by file name.

The key column is the first of ``file``, ``filename``, ``file_name``, ``path``, ``image``, ``name`` that
the file has. A key may be a path relative to the image folder (``shoes/a.jpg``) or a bare file name
(``a.jpg``); the relative path wins when both match. Every other column becomes a metadata key, stored in
the row's ``meta`` JSON field (empty values are left out). The reranker shows this metadata to the LLM.

Each column gets a type (int, float, bool, text, or a list of one of them in JSON Lines), inferred from
all its values (see :mod:`mmrag_lab.store.metatypes`); values are stored as that type, so a CSV's
``2021`` becomes the integer 2021, and the types go into the collection record for filters.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmrag_lab.errors import ConfigError
from mmrag_lab.store.metatypes import coerce_row, infer_types

KEY_COLUMNS = ("file", "filename", "file_name", "path", "image", "name")


@dataclass
class Sidecar:
    """Metadata by file key.

    Attributes:
        source: The file it was read from.
        entries: Key (relative path or bare name) to metadata dict.
        keys: Every metadata key seen, sorted.
        types: The type of each key.
    """

    source: str = ""
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    types: dict[str, str] = field(default_factory=dict)

    def lookup(self, rel: str) -> dict[str, Any]:
        """Metadata for the file at ``rel`` (relative, ``/``-separated); ``{}`` when it has none."""
        found = self.entries.get(rel)
        if found is None:
            found = self.entries.get(rel.rsplit("/", 1)[-1], {})
        return dict(found)


def load_sidecar(path: str | os.PathLike | None) -> Sidecar:
    """Read a CSV (``.csv``/``.tsv``) or JSON Lines (``.jsonl``/``.ndjson``/``.json``) sidecar.

    Raises:
        ConfigError: The file is missing, has no key column, or has a malformed line.
    """
    if path is None:
        return Sidecar()
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"Metadata file {source} does not exist; pass --metadata with a CSV or JSONL file.")
    suffix = source.suffix.lower()
    if suffix in (".csv", ".tsv"):
        rows = _read_csv(source, "\t" if suffix == ".tsv" else ",")
    else:
        rows = _read_jsonl(source)
    return _index(rows, source, from_text=suffix in (".csv", ".tsv"))


def _read_csv(source: Path, delimiter: str) -> list[dict[str, Any]]:
    with source.open(newline="", encoding="utf-8-sig") as handle:
        return [dict(row) for row in csv.DictReader(handle, delimiter=delimiter)]


def _read_jsonl(source: Path) -> list[dict[str, Any]]:
    rows = []
    with source.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{source}, line {number}: not valid JSON ({exc.msg}).") from None
            if not isinstance(row, dict):
                raise ConfigError(f"{source}, line {number}: each line must be a JSON object.")
            rows.append(row)
    return rows


def _index(rows: list[dict[str, Any]], source: Path, from_text: bool) -> Sidecar:
    columns = list(rows[0]) if rows else []
    key = next((c for c in KEY_COLUMNS if any(c in row for row in rows)), None)
    if rows and key is None:
        raise ConfigError(
            f"Metadata file {source} has no file-name column; name one of {', '.join(KEY_COLUMNS)} "
            f"(found: {', '.join(map(str, columns))})."
        )
    entries: dict[str, dict[str, Any]] = {}
    keys: set[str] = set()
    for row in rows:
        name = str(row.get(key) or "").strip().replace("\\", "/").removeprefix("./")
        if not name:
            continue
        meta = {str(k): v for k, v in row.items() if k != key and k is not None and v not in (None, "")}
        entries[name] = meta
        keys.update(meta)
    types = infer_types(entries.values(), from_text)
    entries = {name: coerce_row(meta, types) for name, meta in entries.items()}
    return Sidecar(source=str(source), entries=entries, keys=tuple(sorted(keys)), types=types)
