"""A sidecar's bytes into numbered rows: the encoding found or guessed, CSV limits raised, bad lines named.

Text is read as UTF-8 (with or without a byte-order mark), UTF-16 or UTF-32 with a byte-order mark,
UTF-16 without one (told by its zero bytes), and else as Windows-1252, the encoding spreadsheets on
Windows save "CSV" in (it also reads Latin-1 text). Any other encoding is refused, naming the first
line that is not UTF-8. A line that cannot be read goes into ``problems`` and the rest are read; a file
whose structure is broken (a quote that never closes) is refused, naming the line.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmrag_lab.errors import ConfigError

CSV_SUFFIXES = (".csv", ".tsv")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
# csv's own cap is 128 KiB per cell; a longer cell is read, then judged by the metadata size limit.
MAX_CELL_CHARS = 16 * 1024 * 1024
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class RawRows:
    """What a sidecar file holds before its rows are checked.

    Attributes:
        rows: ``(where, row)``: ``where`` is ``{"line": N}`` (or ``{"entry": N}`` in a JSON array).
        problems: Lines that could not be read: ``{line, reason}``.
        encoding: The encoding the text was read in.
        columns: The CSV header, or every key seen in JSON.
    """

    rows: list[tuple[dict[str, int], dict[str, Any]]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    encoding: str = "utf-8"
    columns: list[str] = field(default_factory=list)


def read_rows(source: Path) -> RawRows:
    """Rows of a ``.csv``/``.tsv`` or ``.jsonl``/``.ndjson``/``.json`` file.

    Raises:
        ConfigError: Unknown suffix, unreadable or empty file, an encoding that cannot be told, a CSV whose
            quoting is broken or whose header repeats a name.
    """
    suffix = source.suffix.lower()
    if suffix not in CSV_SUFFIXES + JSON_SUFFIXES:
        raise ConfigError(
            f"Metadata file {source} has the suffix {suffix or '(none)'!r}; use a CSV (.csv, .tsv) or "
            "JSON Lines (.jsonl, .ndjson, .json) file."
        )
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Metadata file {source} cannot be read ({exc.strerror or exc}).") from None
    text, encoding = decode(data, source)
    if not text.strip():
        raise ConfigError(f"Metadata file {source} is empty; give it a header and one line per image.")
    raw = _read_csv(text, source, "\t" if suffix == ".tsv" else ",") if suffix in CSV_SUFFIXES else None
    raw = raw or _read_json(text, source, array=suffix == ".json")
    raw.encoding = encoding
    return raw


def decode(data: bytes, source: Path) -> tuple[str, str]:
    """The text of ``data`` and the name of the encoding it was read in (see the module docstring)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data, encoding, source), encoding.removesuffix("-sig")
    head = data[:4096]
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if len(head) >= 4 and max(even, odd) > 0.4 * (len(head) // 2) > 10 * min(even, odd):
        encoding = "utf-16-le" if odd > even else "utf-16-be"  # ASCII text in UTF-16, without a mark
        return _strict(data, encoding, source), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}, line {line}: byte 0x{data[exc.start]:02x} is neither UTF-8 nor Windows-1252 text. "
            "Save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8') and ingest again."
        ) from None


def _strict(data: bytes, encoding: str, source: Path) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}, line {line} (about): not valid {encoding} text ({exc.reason}). Save the file as "
            "UTF-8 and ingest again."
        ) from None


def _read_csv(text: str, source: Path, delimiter: str) -> RawRows:
    raw = RawRows()
    previous = csv.field_size_limit(MAX_CELL_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header: list[str] | None = None
        start = 1
        for record in reader:
            where, start = {"line": start}, reader.line_num + 1
            if header is None:
                header = [name.strip() for name in record]
                _check_header(header, source)
                raw.columns = header
            elif any(cell.strip() for cell in record):
                _add_record(raw, where, header, record)
    except csv.Error as exc:
        raise ConfigError(
            f"{source}, line {start}: {exc} (read up to line {reader.line_num}). Check the quotes on that "
            "line: a value holding the delimiter, a quote or a line break is wrapped in double quotes, and "
            "its own quotes are doubled."
        ) from None
    finally:
        csv.field_size_limit(previous)
    if not raw.rows and not raw.problems:
        raise ConfigError(f"Metadata file {source} has a header but no rows.")
    return raw


def _check_header(header: list[str], source: Path) -> None:
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise ConfigError(f"Metadata file {source}: the header repeats {', '.join(map(repr, repeated))}.")


def _add_record(raw: RawRows, where: dict[str, int], header: list[str], record: list[str]) -> None:
    if len(record) > len(header):
        raw.problems.append({**where, "reason": (
            f"{len(record)} values but the header has {len(header)} columns (a value holding the delimiter "
            "needs double quotes)")})  # fmt: skip
        return
    row = {name: cell for name, cell in zip(header, record) if name or cell.strip()}
    if "" in row:
        raw.problems.append({**where, "reason": "a value stands in a column without a name"})
        return
    raw.rows.append((where, row))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number Milvus can store")


def _read_json(text: str, source: Path, array: bool) -> RawRows:
    raw = RawRows()
    stripped = text.lstrip()
    if array and stripped.startswith("["):
        try:
            items = json.loads(stripped, parse_constant=_no_constant)
        except ValueError as exc:
            raise ConfigError(f"{source}: not a valid JSON array ({exc}).") from None
        for number, item in enumerate(items, start=1):
            _add_object(raw, {"entry": number}, item)
        return raw
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raw.problems.append({"line": number, "reason": f"not valid JSON ({exc.msg}, column {exc.colno})"})
            continue
        except ValueError as exc:
            raw.problems.append({"line": number, "reason": str(exc)})
            continue
        _add_object(raw, {"line": number}, item)
    return raw


def _add_object(raw: RawRows, where: dict[str, int], item: Any) -> None:
    if not isinstance(item, dict):
        raw.problems.append({**where, "reason": f"a JSON {type(item).__name__}, not an object"})
        return
    raw.rows.append((where, item))
    raw.columns.extend(str(key) for key in item if str(key) not in raw.columns)
