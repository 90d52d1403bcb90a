"""Text from files and users, shown on a terminal as what it is, never as what it would do.

A file name, a sidecar value, a query id or an LLM's explanation may hold control characters: an escape
sequence clears the screen or sets the window's title, a carriage return hides what came before it, a
newline splits a table's row. :func:`printable` writes each such character as its Python escape (``\\x1b``,
``\\n``, ``\\u202e``), so every table the CLI prints shows one row per item and exactly the bytes' meaning.
"""

from __future__ import annotations

from typing import Any


def printable(value: Any) -> str:
    """``str(value)`` with every character that is not printable (controls, format marks such as a
    right-to-left override, lone surrogates) written as its escape; a backslash stays as it is."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
