"""Text shown on a terminal: control characters are written as their escapes, printable text unchanged."""

from __future__ import annotations

from pathlib import Path

from mmrag_lab.terminal import printable


def test_printable_text_is_unchanged_and_a_backslash_stays():
    assert printable("robe rouge été 夏") == "robe rouge été 夏"
    assert printable("C:\\images\\a.jpg") == "C:\\images\\a.jpg"
    assert printable(Path("a b.jpg")) == "a b.jpg" and printable(42) == "42"


def test_controls_and_format_marks_become_escapes():
    assert printable("\x1b]0;owned\x07title") == "\\x1b]0;owned\\x07title"
    assert printable("row\nsplit\rhidden\t") == "row\\nsplit\\rhidden\\t"
    assert printable("evil\u202egpj.exe") == "evil\\u202egpj.exe"
    assert printable("bad\udcffbyte") == "bad\\udcffbyte"  # a lone surrogate from surrogateescape
    assert "\n" not in printable("a\nb") and printable("a\nb").isprintable()
