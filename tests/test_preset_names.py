"""Encoder preset names as users type them: one canonical spelling, or one clear refusal."""

from __future__ import annotations

import pytest

from mmrag_lab.encoders.presets import PRESETS
from mmrag_lab.errors import ConfigError
from mmrag_lab.preset_names import PRESET_NAMES, preset_name


def test_the_names_are_exactly_the_presets():
    assert set(PRESET_NAMES) == set(PRESETS)


@pytest.mark.parametrize("typed", ["tiny", "TINY", "  Tiny ", "\ttiny"])
def test_case_spaces_and_underscores_do_not_matter(typed):
    assert preset_name("--encoder", typed) == "tiny"
    assert preset_name("--encoder", "CLIP_VIT_B16") == "clip-vit-b16"


def test_a_near_miss_is_refused_with_a_suggestion_and_the_list():
    with pytest.raises(ConfigError, match="Did you mean 'visualized-bge-base'") as err:
        preset_name("MMRAG_ENCODER", "visualised-bge-base")
    assert str(err.value).startswith("MMRAG_ENCODER: ") and "siglip2-base" in str(err.value)


def test_a_name_far_from_every_preset_gets_no_suggestion():
    with pytest.raises(ConfigError) as err:
        preset_name("--encoder", "zzzzzzzz")
    assert "Did you mean" not in str(err.value) and "mmrag encoders" in str(err.value)


def test_a_value_that_is_no_text_is_refused():
    with pytest.raises(ConfigError, match="encoder must be an encoder preset's name .* got int 3"):
        preset_name("encoder", 3)
