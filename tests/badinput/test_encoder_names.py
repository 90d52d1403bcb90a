"""Encoder preset names are read once, by :func:`mmrag_lab.preset_names.preset_name`: every command refuses
a name that is no preset with the list of presets (never as a missing collection), and ``TINY`` is ``tiny``
everywhere, so a collection made with one spelling is searched with another."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_inputs import TRACEBACK, assert_refused

import mmrag_lab
from mmrag_lab.config import Config
from mmrag_lab.encoders.presets import PRESETS
from mmrag_lab.errors import ConfigError
from mmrag_lab.preset_names import PRESET_NAMES, preset_name


def mmrag(*argv: str, folder: Path, **env: str) -> tuple[int, str]:
    """The real ``mmrag`` in a subprocess, run in ``folder``: (exit code, stdout + stderr)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")}
    environ.update(MMRAG_LOG_DIR=str(folder / "logs"), **env)
    done = subprocess.run(
        [sys.executable, "-m", "mmrag_lab.cli", *argv], capture_output=True, text=True, env=environ,
        cwd=folder, timeout=300,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


COMMANDS = {
    "search": ["search", "--text", "a red dress"],
    "eval": ["eval", "queries.jsonl"],
    "info": ["info"],
    "app": ["app", "--port", "18765"],
    "ingest": ["ingest", "images"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_every_command_names_an_unknown_preset_and_lists_the_presets(tmp_path, command):
    (tmp_path / "images").mkdir()
    (tmp_path / "queries.jsonl").write_text(
        '{"image": "a.jpg", "instruction": "red", "targets": ["b.jpg"]}\n'
    )
    uri = str(tmp_path / "lite.db")
    code, text = mmrag(*COMMANDS[command], "--encoder", "vizualized-bge-base", "--uri", uri, folder=tmp_path)
    assert_refused(
        code,
        text,
        [
            "'vizualized-bge-base' is not an encoder preset",
            "Did you mean 'visualized-bge-base'",
            *PRESET_NAMES,
        ],
    )
    assert "no Milvus Lite database" not in text and "does not exist" not in text
    assert not (tmp_path / "lite.db").exists()


@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_an_unknown_preset_in_the_environment_is_named_as_the_variable(tmp_path):
    code, text = mmrag("info", "--uri", str(tmp_path / "lite.db"), folder=tmp_path, MMRAG_ENCODER="nope")
    assert_refused(code, text, ["MMRAG_ENCODER: 'nope' is not an encoder preset", "tiny-clip"])


@pytest.mark.slow
def test_a_preset_spelled_in_capitals_finds_its_own_collection(tmp_path, sample_dir):
    images = tmp_path / "images"
    images.mkdir()
    for source in sorted(sample_dir.rglob("*.jpg"))[:3]:
        (images / source.name).write_bytes(source.read_bytes())
    uri = str(tmp_path / "lite.db")
    common = ["--uri", uri, "--weights", "untrained", "--device", "cpu"]
    code, text = mmrag("ingest", "images", "--encoder", "TINY", "--no-progress", *common, folder=tmp_path)
    assert code == 0, text
    code, text = mmrag("search", "--text", "a dress", "--encoder", " Tiny ", "-k", "2", "--json", "--out", "out",
                       "--uri", uri, "--device", "cpu", folder=tmp_path)  # fmt: skip
    assert TRACEBACK not in text
    assert code == 0, text
    assert '"encoder": "tiny"' in text and '"collection": "mmrag_images_tiny"' in text


def test_the_presets_are_keyed_by_the_names_config_reads():
    assert tuple(PRESETS) == PRESET_NAMES


@pytest.mark.parametrize("given", ["TINY", " tiny ", "Tiny", "TINY_CLIP", "Visualized_BGE_Base"])
def test_one_spelling_of_each_preset_everywhere(given):
    canonical = given.strip().lower().replace("_", "-")
    assert preset_name("encoder", given) == canonical
    config = Config.load(env={}, encoder=given)
    assert config.encoder == canonical
    assert config.collection == Config(encoder=canonical).collection
    assert Config(encoder=given).encoder == canonical


@pytest.mark.parametrize("value", [5, b"tiny", ["tiny"], " ", "tinyy", "clip"])
def test_the_api_refuses_a_name_that_is_no_preset(value):
    with pytest.raises(ConfigError, match="Presets: visualized-bge-base, .*tiny-clip"):
        mmrag_lab.load_encoder(value, weights="untrained", device="cpu")
    with pytest.raises(ConfigError, match="Presets: visualized-bge-base, .*tiny-clip"):
        Config(encoder=value)
