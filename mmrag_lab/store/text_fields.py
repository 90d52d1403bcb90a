"""A collection's searchable text: named sidecar columns joined into one analysed field, with BM25 on it.

A collection made with ``text_fields`` (``mmrag ingest --text-fields title,caption``) has two more fields:

================  ====================  ===================================================================
field             type                  meaning
================  ====================  ===================================================================
``text``          VARCHAR, analysed     the named columns of the row's ``meta``, joined by `` | ``
``text_sparse``   SPARSE_FLOAT_VECTOR   filled by Milvus's own ``BM25`` function from ``text``
================  ====================  ===================================================================

The text is made from ``meta`` whenever a row is written (:func:`text_of`), so a changed sidecar changes
the text at the next ingest, and BM25's statistics follow. Which columns is kept in the collection record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mmrag_lab.errors import ConfigError

TEXT_FIELD = "text"
SPARSE_FIELD = "text_sparse"
BM25_FUNCTION = "text_bm25"
TEXT_LENGTH = 65535  # Milvus' VARCHAR limit, in bytes
SEPARATOR = " | "


def text_of(meta: Mapping[str, Any] | None, columns: Sequence[str]) -> str:
    """The text field of a row with ``meta``: the values of ``columns`` it has, joined; cut to fit."""
    values = [str(meta[name]) for name in columns if meta and meta.get(name) not in (None, "")]
    text = SEPARATOR.join(values).encode("utf-8", "replace")[:TEXT_LENGTH]
    return text.decode("utf-8", "ignore")


def parse_columns(name: str, value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"title,caption"`` or ``["title", "caption"]`` as a tuple of distinct column names.

    Raises:
        ConfigError: A value that is not a text or a list of texts, or an empty name.
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{name} takes sidecar column names, e.g. 'title,caption'; got {value!r}.")
    names = [item.strip() for item in items]
    if not names or any(not item for item in names):
        raise ConfigError(f"{name} {value!r} has an empty column name; give e.g. 'title,caption'.")
    return tuple(dict.fromkeys(names))


def add_text_fields(schema: Any) -> None:
    """Add the analysed ``text`` field, its sparse field and the BM25 function to a new schema."""
    from pymilvus import DataType, Function, FunctionType

    schema.add_field(TEXT_FIELD, DataType.VARCHAR, max_length=TEXT_LENGTH, enable_analyzer=True)
    schema.add_field(SPARSE_FIELD, DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name=BM25_FUNCTION,
            function_type=FunctionType.BM25,
            input_field_names=[TEXT_FIELD],
            output_field_names=[SPARSE_FIELD],
        )
    )


def add_text_index(index: Any) -> None:
    """Index the sparse field for BM25 search."""
    index.add_index(SPARSE_FIELD, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
