"""The Visualized BGE encoder reproduces upstream exactly, loads checkpoints strictly, and fails clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmrag_lab.encoders import load_encoder
from mmrag_lab.errors import CheckpointMismatchError, ConfigError, UntrainedWeightsWarning

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "visualized-bge-parity"
INPUTS = json.loads((FIXTURE / "inputs.json").read_text())
IMAGES = [str(FIXTURE / "images" / name) for name in INPUTS["images"]]
TOL = 1e-4


@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURE / "reference.npz")


@pytest.fixture(scope="module")
def fixture_checkpoint(tmp_path_factory) -> Path:
    """The fixture's own script writes the deterministic weights the reference was computed with."""
    out = tmp_path_factory.mktemp("ckpt") / "det.pth"
    subprocess.run(
        [sys.executable, str(FIXTURE / "det_weights.py"), str(out)], check=True, capture_output=True
    )
    return out


# visualized-bge-base at full size: building it and each test on it take seconds to tens of seconds on a
# CPU, so the tests that use it are marked slow (make check leaves them out).
@pytest.fixture(scope="module")
def base_encoder(fixture_checkpoint):
    return load_encoder(
        "visualized-bge-base",
        weights=str(fixture_checkpoint),
        text_model=str(FIXTURE / "bge-base-en-v1.5-config"),
        device="cpu",
    )


@pytest.mark.slow
def test_preprocessing_matches_reference(base_encoder, reference):
    pixels = torch.stack([base_encoder.preprocess(p) for p in IMAGES]).numpy()
    assert np.abs(pixels - reference["pixels"]).max() <= TOL


@pytest.mark.parametrize("kind", ["image", "composed", "text"])
@pytest.mark.slow
def test_embeddings_match_reference(base_encoder, reference, kind):
    if kind == "image":
        out = base_encoder.encode_images(IMAGES)
    elif kind == "composed":
        out = base_encoder.encode_queries(IMAGES, INPUTS["texts"])
    else:
        out = base_encoder.encode_texts(INPUTS["texts"])
    assert out.dtype == np.float32 and out.shape == (3, 768)
    assert np.abs(out - reference[kind]).max() <= TOL
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_batching_and_padding_do_not_change_vectors(base_encoder):
    together = base_encoder.encode_queries(IMAGES, INPUTS["texts"], batch_size=3)
    one_by_one = np.concatenate(
        [base_encoder.encode_queries([i], [t]) for i, t in zip(IMAGES, INPUTS["texts"])]
    )
    assert np.abs(together - one_by_one).max() <= 1e-5


@pytest.mark.slow
def test_pil_images_and_paths_agree(base_encoder):
    pil = [Image.open(p) for p in IMAGES]
    assert np.abs(base_encoder.encode_images(pil) - base_encoder.encode_images(IMAGES)).max() <= 1e-6


@pytest.mark.slow
def test_untrained_weights_are_the_fixture_recipe(base_encoder, reference, monkeypatch):
    from mmrag_lab import encoders

    monkeypatch.setattr(encoders, "_warned", set())  # the warning is given once per process and preset
    with pytest.warns(UntrainedWeightsWarning):
        untrained = load_encoder("visualized-bge-base", weights="untrained", device="cpu")
    assert untrained.untrained and not base_encoder.untrained
    assert untrained.info.fingerprint == base_encoder.info.fingerprint
    assert np.abs(untrained.encode_texts(INPUTS["texts"]) - reference["text"]).max() <= TOL


@pytest.mark.slow
def test_other_weights_give_other_vectors_and_fingerprints(tmp_path, base_encoder):
    """Reproducing the reference is not an accident of one weight set: a salted set loads and differs."""
    out = tmp_path / "salted.pth"
    subprocess.run(
        [sys.executable, str(FIXTURE / "det_weights.py"), str(out), "salt-1"], check=True, capture_output=True
    )
    other = load_encoder("visualized-bge-base", weights=str(out), device="cpu")
    assert other.info.fingerprint != base_encoder.info.fingerprint
    assert (
        np.abs(other.encode_texts(["make it blue"]) - base_encoder.encode_texts(["make it blue"])).max()
        > 1e-2
    )


@pytest.mark.slow
def test_long_instructions_are_truncated_to_fit_positions(base_encoder):
    long_text = "very " * 2000 + "long"
    out = base_encoder.encode_queries(IMAGES[:1], [long_text])
    assert out.shape == (1, 768) and np.isfinite(out).all()
    assert base_encoder.instruction_limit == 512 - 196
    assert base_encoder.encode_texts([long_text]).shape == (1, 768)


@pytest.mark.slow
def test_checkpoint_with_wrong_keys_names_them(tmp_path, fixture_checkpoint):
    state = torch.load(fixture_checkpoint, weights_only=True)
    state.pop("visual_proj.bias")
    state["extra.weight"] = torch.zeros(2)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(CheckpointMismatchError) as err:
        load_encoder("visualized-bge-base", weights=str(bad), device="cpu")
    assert "visual_proj.bias" in str(err.value) and "extra.weight" in str(err.value)


@pytest.mark.slow
def test_checkpoint_with_rope_buffers_loads(tmp_path, fixture_checkpoint):
    """The official file also carries rope tables; they are recomputed, not loaded."""
    state = torch.load(fixture_checkpoint, weights_only=True)
    state["model_visual.visual.rope.freqs_cos"] = torch.zeros(196, 64)
    path = tmp_path / "with_buffers.pth"
    torch.save(state, path)
    assert load_encoder("visualized-bge-base", weights=str(path), device="cpu").dim == 768


@pytest.mark.slow
def test_checkpoint_for_another_preset_is_refused(fixture_checkpoint):
    with pytest.raises(CheckpointMismatchError, match="wrong shape|missing"):
        load_encoder("tiny", weights=str(fixture_checkpoint), device="cpu")


@pytest.mark.slow
def test_environment_variable_picks_weights(monkeypatch, fixture_checkpoint):
    monkeypatch.setenv("MMRAG_WEIGHTS", str(fixture_checkpoint))
    monkeypatch.setenv("MMRAG_ENCODER", "visualized-bge-base")
    encoder = load_encoder(device="cpu")
    assert encoder.info.weights == str(fixture_checkpoint) and not encoder.untrained


def test_tiny_preset_shapes_and_norms():
    encoder = load_encoder("tiny", weights="untrained", device="cpu")
    assert encoder.untrained and encoder.dim == 64
    for out in (
        encoder.encode_images(IMAGES),
        encoder.encode_queries(IMAGES, INPUTS["texts"]),
        encoder.encode_texts(INPUTS["texts"]),
    ):
        assert out.shape == (3, 64) and out.dtype == np.float32
        assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert encoder.encode_images([]).shape == (0, 64)


def test_mismatched_lengths_and_non_strings_are_clear_errors():
    encoder = load_encoder("tiny", weights="untrained", device="cpu")
    with pytest.raises(ConfigError, match="instructions"):
        encoder.encode_queries(IMAGES, ["only one"])
    with pytest.raises(ConfigError, match=r"Text 1 of 1 .* must be a text \(str\), got NoneType"):
        encoder.encode_texts([None])
