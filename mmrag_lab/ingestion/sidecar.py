"""Per-image metadata from a sidecar file: CSV or JSON Lines, keyed by file name.

The key column is the first of ``file``, ``filename``, ``file_name``, ``path``, ``image``, ``name`` that
the file has (case and spaces in the header do not matter). A key may be a path relative to the image
folder (``shoes/a.jpg``) or a bare file name (``a.jpg``); the relative path wins when both match. Every
other column becomes a metadata key, stored in the row's ``meta`` JSON field (empty values are left out).
The reranker shows this metadata to the LLM.

Each column gets a type (int, float, bool, text, or a list of one of them in JSON Lines), inferred from
all its values (see :mod:`mmrag_lab.store.metatypes`); values are stored as that type, so a CSV's
``2021`` becomes the integer 2021, and the types go into the collection record for filters.

Every line has a defined answer (see :mod:`.sidecar_read` for encodings and broken lines). A line that
cannot be used is left out and named in ``problems``, and the run goes on: a key that leaves the folder
(``../x.jpg``, an absolute path), a file listed twice with different values, metadata over
:data:`META_LIMIT` bytes, a value Milvus cannot store (NaN, infinity, an integer beyond 64 bits, a nested
object). A file that a left-out line names keeps the metadata it has.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.sidecar_read import read_rows
from mmrag_lab.ingestion.sidecar_values import check_meta
from mmrag_lab.store.metatypes import CoercionError, coerce_row, infer_types

KEY_COLUMNS = ("file", "filename", "file_name", "path", "image", "name")
META_LIMIT = 65_536  # bytes of a row's metadata as JSON: Milvus' JSON field limit
_DRIVE = re.compile(r"[A-Za-z]:/")


@dataclass
class Sidecar:
    """Metadata by file key.

    Attributes:
        source: The file it was read from.
        entries: Key (relative path or bare name) to metadata dict.
        keys: Every metadata key seen, sorted.
        types: The type of each key.
        lines: Key to where it stands in the file (``{"line": N}`` or ``{"entry": N}``).
        problems: Lines left out: ``{line (or entry), key, reason}``.
        encoding: The encoding the file was read in.
        exact: Keys written with a backslash or spaces around them, as written (``back\\slash.jpg``, legal
            names on Linux), to the key they are read as (``back/slash.jpg``, a Windows path; spaces stripped)
            or None where that reading is refused.
            :meth:`prefer_exact` settles each once the folder's files are known.
        refused: The problem of each refused reading of :attr:`exact`; dropped when a file has the exact name.
    """

    source: str = ""
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    types: dict[str, str] = field(default_factory=dict)
    lines: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    encoding: str = ""
    exact: dict[str, str | None] = field(default_factory=dict)
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)

    def prefer_exact(self, rels: list[str]) -> None:
        """Give each key of :attr:`exact` to the file of that exact name when the folder has one (``rels``:
        every file, relative); else it is read as a path (or keeps its problem), as any other key."""
        names = set(rels) | {rel.rsplit("/", 1)[-1] for rel in rels}
        for literal, read_as in self.exact.items():
            if literal not in self.entries:
                continue
            if literal in names:
                if literal in self.refused:
                    self.problems.remove(self.refused[literal])
                continue
            meta, where = self.entries.pop(literal), self.lines.pop(literal)  # no such file: read as a path
            if read_as is not None and read_as not in self.entries:
                self.entries[read_as], self.lines[read_as] = meta, where
            elif read_as is not None:
                first, second = sorted((self.lines[read_as], where), key=lambda w: sorted(w.items()))
                listed = f"listed 2 times ({_place(first)}, {_place(second)})"
                same = self.entries[read_as] == meta
                reason = " with the same values; used once" if same else (
                    " with different values; none is used, keep one line per file")  # fmt: skip
                self.problems.append({**first, "key": read_as, "reason": listed + reason})
                if not same:
                    del self.entries[read_as], self.lines[read_as]
        self.exact = {}
        self.keys = tuple(sorted({k for meta in self.entries.values() for k in meta}))
        self.types = {k: v for k, v in self.types.items() if k in self.keys}

    def match(self, rel: str) -> str | None:
        """The key that names the file at ``rel`` (relative, ``/``-separated), or None."""
        if rel in self.entries:
            return rel
        name = rel.rsplit("/", 1)[-1]
        return name if name in self.entries else None

    def lookup(self, rel: str) -> dict[str, Any]:
        """Metadata for the file at ``rel``; ``{}`` when it has none."""
        key = self.match(rel)
        return dict(self.entries[key]) if key is not None else {}

    def unmatched(self, rels: list[str]) -> list[dict[str, Any]]:
        """Entries that name no file of ``rels``: ``{line, key}``, in file order."""
        used = {self.match(rel) for rel in rels}
        return [{**self.lines[key], "key": key} for key in self.entries if key not in used]


def load_sidecar(path: str | os.PathLike | None) -> Sidecar:
    """Read a CSV (``.csv``/``.tsv``) or JSON Lines (``.jsonl``/``.ndjson``/``.json``) sidecar.

    Raises:
        ConfigError: The file is missing, empty, has no key column, or cannot be read as text or CSV.
    """
    if path is None:
        return Sidecar()
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"Metadata file {source} does not exist; pass --metadata with a CSV or JSONL file.")
    raw = read_rows(source)
    sidecar = Sidecar(source=str(source), encoding=raw.encoding, problems=list(raw.problems))
    if not raw.rows and not raw.problems:
        raise ConfigError(f"Metadata file {source} has no rows.")
    if raw.rows:
        _index(sidecar, raw.rows, raw.columns, from_text=source.suffix.lower() in (".csv", ".tsv"))
    return sidecar


def key_column(columns: list[str]) -> str | None:
    """The column that names the files: the first of :data:`KEY_COLUMNS`, ignoring case and spaces."""
    plain = {column.strip().lower().replace(" ", "_"): column for column in columns}
    return next((plain[name] for name in KEY_COLUMNS if name in plain), None)


def _index(sidecar: Sidecar, rows: list, columns: list[str], from_text: bool) -> None:
    key = key_column(columns)
    if key is None:
        raise ConfigError(
            f"Metadata file {sidecar.source} has no file-name column; name one of {', '.join(KEY_COLUMNS)} "
            f"(found: {', '.join(map(repr, columns)) or 'no columns'})."
        )
    found: dict[str, list[tuple[dict[str, int], dict[str, Any]]]] = {}
    for where, row in rows:
        name, reason = _key(row.get(key), key)
        meta = {str(k): v for k, v in row.items() if k != key and v not in (None, "")}
        literal = _literal(row.get(key))
        if literal is not None:  # kept as written until prefer_exact knows whether a file has that name
            sidecar.exact[literal] = None if reason else name
            if reason:
                sidecar.refused[literal] = {**where, "key": name, "reason": reason}
                sidecar.problems.append(sidecar.refused[literal])
            name, reason = literal, None
        reason = reason or check_meta(meta, META_LIMIT)
        if reason:
            sidecar.problems.append({**where, "key": name, "reason": reason})
        else:
            found.setdefault(name, []).append((where, meta))
    entries: dict[str, dict[str, Any]] = {}
    for name, listed in found.items():
        if len(listed) > 1:
            places = ", ".join(f"{kind} {n}" for where, _ in listed for kind, n in where.items())
            same = all(meta == listed[0][1] for _, meta in listed)
            sidecar.problems.append({**listed[0][0], "key": name, "reason": (
                f"listed {len(listed)} times ({places}) with the same values; used once" if same else
                f"listed {len(listed)} times ({places}) with different values; none is used, keep one line "
                "per file")})  # fmt: skip
            if not same:
                continue
        entries[name] = listed[0][1]
        sidecar.lines[name] = listed[0][0]
    types = infer_types(entries.values(), from_text)
    for name, meta in list(entries.items()):
        try:
            entries[name] = coerce_row(meta, types)
        except CoercionError as exc:
            sidecar.problems.append({**sidecar.lines.pop(name), "key": name, "reason": str(exc)})
            del entries[name]
    sidecar.entries = entries
    sidecar.keys = tuple(sorted({k for meta in entries.values() for k in meta}))
    sidecar.types = {k: v for k, v in types.items() if k in sidecar.keys}


def _place(where: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in where.items())


def _literal(value: Any) -> str | None:
    """A key that reading as a path changes (a backslash, spaces around it) as the exact name it may be;
    None when reading changes nothing or the exact text cannot name a file in the folder."""
    if not isinstance(value, str) or ("\\" not in value and value == value.strip()) or not value.strip():
        return None
    name = posixpath.normpath(value)
    if value.startswith("/") or "\x00" in value or name in (".", "..") or name.startswith("../"):
        return None
    return name


def _key(value: Any, column: str) -> tuple[str, str | None]:
    """The normalised key of a row and, when it cannot be used, why."""
    if isinstance(value, (dict, list, bool)) or value is None:
        shown = "" if value is None else str(value)[:60]
        return shown, f"no file name in column {column!r}"
    text = str(value).strip().replace("\\", "/")
    if not text:
        return text, f"no file name in column {column!r}"
    if text.startswith("/") or _DRIVE.match(text):
        return text, "an absolute path; keys are paths relative to the image folder (or bare file names)"
    name = posixpath.normpath(text)
    if name == ".." or name.startswith("../"):
        return text, "leaves the image folder; keys are paths relative to it (or bare file names)"
    if name == ".":
        return text, "names the folder itself, not a file"
    return name, None
