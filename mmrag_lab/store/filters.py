"""Search filters written as keyword arguments, turned into Milvus boolean expressions safely.

Vocabulary of ``where={...}`` (all conditions must hold):

==========================================  ==========================================================
key                                         condition
==========================================  ==========================================================
``path``                                    the stored path equals the value (or one of a list)
``path_prefix``                             the stored path starts with the value
``path_contains``                           the stored path contains the value (Milvus Lite, server >= 2.4)
``id``                                      the row id (content hash) equals the value (or one of a list)
``width``, ``height``, ``file_size``        equals the integer (or one of a list)
``min_width``, ``max_width``, ...           ``>=`` / ``<=`` bound on ``width``, ``height``, ``file_size``
any sidecar metadata key, e.g. ``category``  ``meta[key]`` equals the value (or one of a list)
``meta.<key>``                              the same, for a key the collection record does not list
==========================================  ==========================================================

A metadata value is first coerced to its column's type as the collection record stores it (see
:mod:`mmrag_lab.store.metatypes`): ``year="2021"`` matches the integer 2021, ``code=7`` the text ``"7"``,
and a value that cannot be read as that type is refused, naming column, type and value. On a list column
(JSON Lines) the condition is that the list contains the value.

Values are data, never syntax: strings become escaped literals (a quote, backslash or line break cannot
end the literal), numbers must be finite numbers and metadata keys must be plain names. A raw expression
for experts goes through ``filter=`` unchanged.

Paths hold every character, ``%``, ``_`` and ``\\`` included. ``path_prefix`` is a range of string
comparisons (``path >= P and path < P'``), exact on every backend. ``path_contains`` needs ``like``, and
Milvus Lite 3.2.2 reads one pattern three ways: a ``%text%`` without ``%``/``_`` inside is matched as
plain text (a backslash is itself), a pattern with wildcards honours ``\\`` escapes, and an expression with
a JSON path (a metadata condition) is evaluated row by row with no escapes at all. The pattern is written
for the way it will be read; a ``%`` or ``_`` beside a metadata condition on Lite cannot be written
literally and is refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mmrag_lab.errors import QueryError
from mmrag_lab.store.metatypes import CoercionError, coerce

INT_FIELDS = ("width", "height", "file_size")
RANGE_KEYS = {
    f"{side}_{name}": (name, op) for name in INT_FIELDS for side, op in (("min", ">="), ("max", "<="))
}
PATH_KEYS = ("path", "path_prefix", "path_contains", "id")
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})
META_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")


@dataclass(frozen=True)
class Dialect:
    """What the backend's expression language can do with ``like`` patterns."""

    name: str
    infix_like: bool  # ``%value%`` patterns (Lite 3.x and servers >= 2.4); 2.3 servers only match prefixes
    like_escapes: bool  # ``\\%``, ``\\_`` and ``\\\\`` escape pattern characters; on 2.3, ``_`` is literal
    plain_like: bool = False  # Lite: wildcard-free patterns are plain text; JSON paths disable escapes


LITE = Dialect("Milvus Lite", infix_like=True, like_escapes=True, plain_like=True)
SERVER_2_3 = Dialect("Milvus 2.3 server", infix_like=False, like_escapes=False)
SERVER = Dialect("Milvus server", infix_like=True, like_escapes=True)


def dialect_for(server_version: str) -> Dialect:
    """The dialect of a backend, from ``MilvusClient.get_server_version()`` (Lite answers ``milvus_lite-*``)."""
    if server_version.startswith("milvus_lite"):
        return LITE
    found = re.match(r"v?(\d+)\.(\d+)", server_version)
    return SERVER_2_3 if found and (int(found[1]), int(found[2])) < (2, 4) else SERVER


def build_filter(
    where: Mapping[str, Any] | None,
    *,
    dialect: Dialect = LITE,
    metadata_keys: Iterable[str] | None = None,
    metadata_types: Mapping[str, str] | None = None,
) -> str:
    """The Milvus expression for ``where`` ("" when there is nothing to filter on).

    Args:
        where: Conditions in the vocabulary above.
        dialect: What the backend supports (``Store.dialect()``).
        metadata_keys: Sidecar keys the collection knows; a bare key outside this list and the vocabulary
            is refused (a typo would otherwise match nothing). None accepts any plain key.

    Raises:
        QueryError: Unknown key, a value of the wrong type, or a pattern the backend cannot express.
    """
    types = dict(metadata_types or {})
    where = dict(where or {})
    if dialect.plain_like and any(_is_meta(key) for key in where):
        dialect = _ROW_BY_ROW
    clauses = [_clause(key, value, dialect, metadata_keys, types) for key, value in where.items()]
    return " and ".join(clauses)


def combine(*expressions: str | None) -> str:
    """AND-join expressions, each in parentheses so that an ``or`` inside one stays inside it."""
    parts = [e.strip() for e in expressions if e and e.strip()]
    return parts[0] if len(parts) == 1 else " and ".join(f"({p})" for p in parts)


def string_literal(value: str) -> str:
    """A double-quoted Milvus string literal holding exactly ``value``.

    Only the escapes that both Milvus Lite and the server understand are used (``\\ \" \n \r \t``);
    every other character, control characters and non-ASCII included, stands for itself.
    """
    return '"' + value.translate(_ESCAPES) + '"'


def _clause(
    key: str, value: Any, dialect: Dialect, metadata_keys: Iterable[str] | None, types: dict[str, str]
) -> str:
    if key in RANGE_KEYS:
        name, op = RANGE_KEYS[key]
        return f"{name} {op} {_number(key, value, integer=True)}"
    if key in INT_FIELDS or key in ("path", "id"):
        render = (
            (lambda v: _number(key, v, integer=True)) if key in INT_FIELDS else (lambda v: _string(key, v))
        )
        values = _as_list(value)
        return (
            f"{key} == {render(values[0])}"
            if len(values) == 1
            else f"{key} in [{', '.join(map(render, values))}]"
        )
    if key == "path_prefix":
        return _prefix_range(_string_value(key, value))
    if key == "path_contains":
        return f"path like {string_literal(_contains_pattern(_string_value(key, value), dialect))}"
    meta_key = key[5:] if key.startswith("meta.") else key
    known = None if metadata_keys is None else set(metadata_keys)
    if not META_KEY.fullmatch(meta_key):
        raise QueryError(f"Filter key {key!r} is not a plain metadata name (letters, digits, _ . -).")
    if known is not None and not key.startswith("meta.") and meta_key not in known:
        vocabulary = ", ".join([*PATH_KEYS, *INT_FIELDS, *RANGE_KEYS])
        raise QueryError(
            f"Unknown filter key {key!r}. Use one of {vocabulary}, a metadata key of this collection "
            f"({', '.join(sorted(known)) or 'it has none'}), or 'meta.{meta_key}' for any metadata key."
        )
    field = f"meta[{string_literal(meta_key)}]"
    kind = types.get(meta_key)
    values = [_typed(meta_key, v, kind) for v in _as_list(value)]
    if kind and kind.startswith("list["):
        options = [f"json_contains({field}, {_scalar(key, v)})" for v in values]
    else:
        options = [f"{field} == {_scalar(key, v)}" for v in values]
    return options[0] if len(options) == 1 else "(" + " or ".join(options) + ")"


def _typed(column: str, value: Any, kind: str | None) -> Any:
    if kind is None or isinstance(value, (list, dict)):
        return value
    try:
        return coerce(value, kind, column)
    except CoercionError as exc:
        raise QueryError(str(exc)) from None


def _is_meta(key: str) -> bool:
    return not (key in RANGE_KEYS or key in INT_FIELDS or key in PATH_KEYS)


def _prefix_range(prefix: str) -> str:
    """Every string that starts with ``prefix``, as comparisons (code point order = UTF-8 byte order)."""
    head = prefix.rstrip(chr(0x10FFFF))
    if not head:
        return f"path >= {string_literal(prefix)}"
    following = ord(head[-1]) + 1
    following = 0xE000 if 0xD800 <= following < 0xE000 else following  # surrogates are not text
    upper = head[:-1] + chr(following)
    return f"(path >= {string_literal(prefix)} and path < {string_literal(upper)})"


def _contains_pattern(value: str, dialect: Dialect) -> str:
    if not dialect.infix_like:
        raise QueryError(
            f"path_contains needs Milvus Lite or a Milvus server >= 2.4; this {dialect.name} matches path "
            "prefixes only. Use path_prefix, or a metadata key."
        )
    wildcards = "%" in value or "_" in value
    if dialect is _ROW_BY_ROW and wildcards:
        raise QueryError(
            f"path_contains={value!r}: Milvus Lite cannot match a '%' or '_' literally beside a metadata "
            "condition. Leave that character out of path_contains, or filter on the path alone."
        )
    plain = dialect is _ROW_BY_ROW or (dialect.plain_like and not wildcards and not value.endswith("\\"))
    if not plain:
        value = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{value}%"


_ROW_BY_ROW = Dialect("Milvus Lite (row by row)", infix_like=True, like_escapes=False)


def _as_list(value: Any) -> list[Any]:
    values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    if not values:
        raise QueryError("An empty list in a filter matches nothing; leave the key out instead.")
    return values


def _string_value(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise QueryError(f"Filter {key!r} needs a string, got {type(value).__name__} {value!r:.60}.")
    return value


def _string(key: str, value: Any) -> str:
    return string_literal(_string_value(key, value))


def _number(key: str, value: Any, integer: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise QueryError(f"Filter {key!r} needs a finite number, got {value!r:.60}.")
    if integer and not float(value).is_integer():
        raise QueryError(f"Filter {key!r} needs a whole number, got {value!r}.")
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, (int, float)):
        return _number(key, value)
    raise QueryError(
        f"Filter {key!r} takes strings, numbers or booleans (or a list of them), got {value!r:.60}."
    )
