"""``bge-vl-base`` reproduces upstream BGE-VL (MegaPairs ``modeling_MMRet_CLIP.py``) under fixed weights.

The fixture (tests/fixtures/bge-vl-parity, see its README) holds upstream's outputs; its own script writes the
weights they were computed with as a hub-layout model folder, which is loaded as a real checkpoint is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mmrag_lab.encoders import load_encoder

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bge-vl-parity"
INPUTS = json.loads((FIXTURE / "inputs.json").read_text())
IMAGES = [str(FIXTURE / "images" / name) for name in INPUTS["images"]]
TOL = 1e-5
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def reference():
    return np.load(FIXTURE / "reference.npz")


@pytest.fixture(scope="session")
def bge_vl_folder(tmp_path_factory) -> Path:
    """The fixture's det_weights.py writes the weights (about 600 MB) into a temporary model folder."""
    out = tmp_path_factory.mktemp("bge-vl-base")
    subprocess.run(
        [sys.executable, str(FIXTURE / "det_weights.py"), str(out)], check=True, capture_output=True
    )
    return out


@pytest.fixture(scope="session")
def bge_vl(bge_vl_folder):
    return load_encoder("bge-vl-base", weights=str(bge_vl_folder), device="cpu")


def test_the_folder_loads_as_real_weights(bge_vl, bge_vl_folder):
    assert not bge_vl.untrained and bge_vl.info.weights == str(bge_vl_folder)
    assert bge_vl.dim == 512 and bge_vl.fusion == "sum" and bge_vl.dtype == torch.float32
    assert bge_vl.text_limit == bge_vl.instruction_limit == 77


def test_pixels_match_upstream(bge_vl, reference):
    pixels = torch.stack([bge_vl.preprocess(p) for p in IMAGES]).numpy()
    assert pixels.shape == reference["pixels"].shape
    assert np.abs(pixels - reference["pixels"]).max() <= TOL


def test_image_text_and_composed_embeddings_match_upstream(bge_vl, reference):
    got = {
        "image": bge_vl.encode_images(IMAGES),
        "text": bge_vl.encode_texts(INPUTS["texts"]),
        "composed": bge_vl.encode_queries(IMAGES, INPUTS["texts"]),
    }
    for kind, out in got.items():
        assert out.dtype == np.float32 and out.shape == (5, 512), kind
        assert np.abs(out - reference[kind]).max() <= TOL, kind


def test_long_instruction_is_truncated_at_77_positions_as_upstream(bge_vl, reference):
    out = bge_vl.encode_queries(IMAGES[:1], [INPUTS["long_text"]])
    assert np.abs(out - reference["long_composed"]).max() <= TOL
    ids = bge_vl.tokenizer([INPUTS["long_text"]], truncation=True, max_length=bge_vl.text_limit)["input_ids"]
    assert ids == reference["long_input_ids"].astype(int).tolist()


def test_untrained_bge_vl_base_is_the_fixture_recipe(bge_vl, reference):
    """``weights="untrained"`` builds the same deterministic weights, offline, with the bundled tokenizer."""
    untrained = load_encoder("bge-vl-base", weights="untrained", device="cpu")
    assert untrained.untrained and untrained.info.fingerprint == bge_vl.info.fingerprint
    assert np.abs(untrained.encode_texts(INPUTS["texts"]) - reference["text"]).max() <= TOL


def test_salted_weights_give_other_vectors(tmp_path, bge_vl):
    """Matching the reference is no accident of the weights: another weight set loads and differs."""
    subprocess.run(
        [sys.executable, str(FIXTURE / "det_weights.py"), str(tmp_path), "salt-1"],
        check=True,
        capture_output=True,
    )
    other = load_encoder("bge-vl-base", weights=str(tmp_path), device="cpu")
    assert other.info.fingerprint != bge_vl.info.fingerprint
    assert np.abs(other.encode_texts(["make it blue"]) - bge_vl.encode_texts(["make it blue"])).max() > 1e-2
