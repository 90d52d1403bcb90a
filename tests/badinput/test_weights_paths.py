"""A weights path that cannot be used is named with its preset and what is wrong with it, on real folders:
a folder given where a checkpoint file is read (and the file inside it, when it is there), a model folder
that lacks config.json or its weights file, a file given where a folder is read, a path that is not there.
The message never says "does not exist" of a folder that exists, nor names a hub repo the preset lacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cli_inputs import assert_refused

import mmrag_lab
from mmrag_lab.encoders import weights as W
from mmrag_lab.encoders.presets import PRESETS
from mmrag_lab.errors import WeightsError


def refused(name: str, weights) -> str:
    with pytest.raises(WeightsError) as caught:
        mmrag_lab.load_encoder(name, weights=str(weights), device="cpu")
    return str(caught.value)


def test_a_folder_given_for_a_checkpoint_is_called_a_folder(tmp_path):
    message = refused("tiny", tmp_path)
    assert f"Weights for encoder preset 'tiny': {tmp_path} is a folder" in message
    assert "'tiny' has no published weights: use 'untrained'" in message
    assert "does not exist" not in message


def test_a_folder_holding_the_checkpoint_names_the_file_to_pass(tmp_path):
    (tmp_path / "Visualized_base_en_v1.5.pth").write_bytes(b"not read")
    with pytest.raises(WeightsError) as caught:
        W.resolve_checkpoint(PRESETS["visualized-bge-base"], str(tmp_path))
    assert f"pass {tmp_path / 'Visualized_base_en_v1.5.pth'}" in str(caught.value)
    (tmp_path / "Visualized_base_en_v1.5.pth").unlink()
    with pytest.raises(
        WeightsError, match=r"one checkpoint file \(Visualized_base_en_v1.5.pth\); get it from"
    ):
        W.resolve_checkpoint(PRESETS["visualized-bge-base"], str(tmp_path))


def test_a_missing_checkpoint_names_the_preset(tmp_path):
    message = refused("tiny", tmp_path / "nope.pth")
    assert f"for encoder preset 'tiny': {tmp_path / 'nope.pth'} does not exist (no such file)" in message


def test_a_pipe_is_not_a_checkpoint(tmp_path):
    os.mkfifo(tmp_path / "pipe.pth")
    assert "is not a regular file" in refused("tiny", tmp_path / "pipe.pth")


@pytest.mark.parametrize(
    "files,lacks",
    [
        ((), "it lacks config.json and a weights file (model.safetensors or pytorch_model.bin)"),
        (("config.json",), "it lacks a weights file (model.safetensors or pytorch_model.bin)"),
        (("model.safetensors",), "it lacks config.json."),
    ],
)
def test_a_model_folder_names_what_it_lacks_and_the_preset(tmp_path, files, lacks):
    for name in files:
        (tmp_path / name).write_text("{}")
    message = refused("tiny-clip", tmp_path)
    assert f"for encoder preset 'tiny-clip': {tmp_path} is not a whole model folder: {lacks}" in message
    assert "None" not in message and "'tiny-clip' has no published weights" in message
    hub = refused("bge-vl-base", tmp_path)
    assert "layout of the hub repo BAAI/BGE-VL-base" in hub and lacks in hub


def test_a_file_given_for_a_model_folder_and_a_missing_folder(tmp_path):
    (tmp_path / "model.pth").write_bytes(b"x")
    assert "is a file, but this preset reads a model folder" in refused("tiny-clip", tmp_path / "model.pth")
    assert "does not exist (no such folder)" in refused("tiny-clip", tmp_path / "gone")


@pytest.mark.slow
def test_the_cli_names_the_weights_and_the_preset(tmp_path):
    (tmp_path / "images").mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")}
    environ["MMRAG_LOG_DIR"] = str(tmp_path / "logs")
    done = subprocess.run(
        [sys.executable, "-m", "mmrag_lab.cli", "ingest", str(tmp_path / "images"), "--encoder", "tiny",
         "--weights", str(tmp_path), "--device", "cpu", "--uri", str(tmp_path / "lite.db")],
        capture_output=True, text=True, env=environ, timeout=300,
    )  # fmt: skip
    assert_refused(
        done.returncode,
        done.stdout + done.stderr,
        [f"Weights for encoder preset 'tiny': {tmp_path} is a folder"],
    )
