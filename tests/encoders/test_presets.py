"""The encoder presets: one per name, each complete enough to list, build and pick weights for."""

from __future__ import annotations

import pytest

from mmrag_lab.encoders.presets import BUNDLED_TEXT_MODELS, PRESETS, get_preset
from mmrag_lab.errors import ConfigError
from mmrag_lab.evaluation.inputs.templates import QUERY_TEMPLATES


def test_each_preset_is_keyed_by_its_own_name_and_complete():
    for name, preset in PRESETS.items():
        assert preset.name == name and preset.about and preset.dim > 0, name
        assert preset.family in ("visualized-bge", "clip", "siglip"), name
        assert preset.query_template in QUERY_TEMPLATES, name
        assert (preset.hub_repo is None) or preset.license, f"{name}: real weights need a licence"


def test_get_preset_reads_names_as_users_type_them():
    assert get_preset(" Visualized_BGE_Base ") is PRESETS["visualized-bge-base"]
    with pytest.raises(ConfigError, match="encoder preset: 'bge-xl' is not an encoder preset"):
        get_preset("bge-xl")


def test_bundled_text_models_are_on_disk():
    assert all((folder / "config.json").is_file() for folder in BUNDLED_TEXT_MODELS.values())
