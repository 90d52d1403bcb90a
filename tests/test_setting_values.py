"""Each setting's value checked and converted the same way wherever it comes from, messages naming the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrag_lab.errors import ConfigError
from mmrag_lab.setting_values import coerce


@pytest.mark.parametrize(
    ("value", "word"),
    [
        ("auto", "auto"),
        ("ON", "on"),
        ("yes", "on"),
        (True, "on"),
        ("0", "off"),
        (False, "off"),
        (" no ", "off"),
    ],
)
def test_compile_reads_every_spelling_of_a_switch(value, word):
    assert coerce("compile", value, "--compile") == word


def test_compile_refuses_other_words_naming_the_source():
    with pytest.raises(ConfigError, match="MMRAG_COMPILE must be auto, on or off, got 'maybe'"):
        coerce("compile", "maybe", "MMRAG_COMPILE")


def test_values_are_converted():
    assert coerce("metric", "cosine", "--metric") == "COSINE"
    assert coerce("encoder", "TINY", "MMRAG_ENCODER") == "tiny"
    assert coerce("collection", "", "--collection") == ""
    assert coerce("cache_dir", Path("/tmp/cache"), "cache_dir") == "/tmp/cache"


def test_a_field_without_a_check_passes_through():
    marker = object()
    assert coerce("no_such_field", marker, "x") is marker


@pytest.mark.parametrize(
    ("name", "value", "source"),
    [
        ("metric", "hamming", "--metric"),
        ("compile_mode", "fastest", "MMRAG_COMPILE_MODE"),
        ("llm_model", None, "llm_model"),
        ("cache_dir", "", "--cache-dir"),
        ("weights", "https://example.com/w.pth", "--weights"),
        ("encoder", "nope-encoder", "--encoder"),
    ],
)
def test_bad_values_are_refused_naming_where_they_came_from(name, value, source):
    with pytest.raises(ConfigError, match=source):
        coerce(name, value, source)
