"""Around every encoder's model: texts checked before tokenizing, a progress bar only for several batches."""

from __future__ import annotations

import pytest

from mmrag_lab.encoders.batches import check_texts, progress
from mmrag_lab.errors import ConfigError


def test_texts_come_back_as_a_list_one_per_image():
    assert check_texts(("red", "blue"), pixels=2) == ["red", "blue"] and check_texts([]) == []
    with pytest.raises(ConfigError, match="Got 3 images but 2 instructions; pass one per image"):
        check_texts(["red", "blue"], pixels=3)


def test_a_text_that_is_not_one_names_its_place():
    with pytest.raises(ConfigError, match=r"Text 2 of 2 \(an instruction or a text query\) must be a text"):
        check_texts(["red", None])
    with pytest.raises(ConfigError, match="Text 1 of 1 .* lone surrogate"):
        check_texts(["bad\udcff"])


def test_the_bar_counts_items_and_shows_only_for_more_than_one_batch():
    with progress(100, 32, "images") as bar:
        assert not bar.disable and bar.total == 100 and bar.unit == "image" and bar.desc == "encode images"
    with progress(32, 32, "texts") as bar:
        assert bar.disable
