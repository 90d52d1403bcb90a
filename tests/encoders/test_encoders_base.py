"""One contract test for every encoder preset, on untrained weights: what ingestion, retrieval and
evaluation rely on holds for each (shapes, norms, fusion, query kinds, text limits, preprocessing).

Each preset is built once (the big ones take a while on a CPU) and freed before the next, and each distinct
model configuration is built once: ``bge-vl-large`` and ``clip-vit-l14`` (and ``bge-vl-base`` and
``clip-vit-b16``) are the same CLIP architecture, so on untrained weights they are the same model.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmrag_lab.encoders import PRESETS, hub_weights, load_encoder
from mmrag_lab.encoders.base import FUSIONS, QUERY_KINDS, Encoder
from tests.badimages import exif_rotated_jpeg, palette_with_transparency

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bge-vl-parity"
IMAGES = sorted(str(p) for p in (FIXTURE / "images").iterdir())
TEXTS = ["make it blue", "a dog on a sofa", "", "the same garment with long sleeves", "night"]
BIG = {"bge-vl-large", "clip-vit-l14", "siglip2-base", "visualized-bge-base", "bge-vl-base", "clip-vit-b16"}


def model_configuration(name: str) -> str:
    """What a preset's untrained model is built from: its family and architecture (a hub preset's bundled
    ``config.json``). Presets that differ only in name, tokenizer or preprocessing share it."""
    preset = PRESETS[name]
    config = hub_weights.config_folder(preset) / "config.json"
    architecture = config.read_text() if config.is_file() else repr((preset.vision, preset.text))
    return f"{preset.family}: {architecture}"


def by_configuration(names: list[str]) -> list[str]:
    """``names`` in order, each one followed at once by the others of its configuration."""
    first: dict[str, int] = {}
    for name in names:
        first.setdefault(model_configuration(name), len(first))
    return sorted(names, key=lambda name: first[model_configuration(name)])


# visualized-bge-m3 needs the bge-m3 tokenizer from the hub; its architecture is tested in visualized_bge/test_model.py.
OFFLINE = by_configuration(sorted(name for name in PRESETS if name != "visualized-bge-m3"))


@pytest.fixture(scope="module")
def one_build_per_configuration():
    """While this module runs, ``hub_weights.untrained`` keeps the last model it built: the next preset of
    the same configuration gets that model (untrained values are a function of the parameter names and
    shapes, so a second build would be equal), and a new configuration lets it go before building, so one
    model is held at a time, as before."""
    build, last, built = hub_weights.untrained, {}, []

    def untrained(model_class, config):
        key = (model_class, config.to_json_string())
        if key not in last:
            last.clear()
            last[key] = build(model_class, config)
            built.append(key)
        return last[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hub_weights, "untrained", untrained)
        yield
    twice = [
        f"{cls.__name__} of {json.loads(config).get('model_type')}"
        for cls, config in built
        if built.count((cls, config)) > 1
    ]
    assert not twice, f"built twice: {twice}; keep the presets of one configuration adjacent in OFFLINE"


@pytest.fixture(
    scope="module", params=[pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in OFFLINE]
)
def encoder(request, one_build_per_configuration) -> Encoder:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_encoder(request.param, weights="untrained", device="cpu")


def odd_images() -> list:
    """Fixture images plus an EXIF-rotated JPEG and a palette image with transparency, as bytes and PIL."""
    return [*IMAGES, exif_rotated_jpeg(), palette_with_transparency()]


def test_contract_fields_are_filled(encoder):
    info = encoder.describe()
    assert info["name"] in PRESETS and info["untrained"] is True and info["dim"] == encoder.dim > 0
    assert encoder.fusion in FUSIONS and set(encoder.query_kinds) <= set(QUERY_KINDS)
    assert 0 < encoder.instruction_limit <= encoder.text_limit
    assert encoder.device == torch.device("cpu") and encoder.dtype == torch.float32
    assert info["preprocessing"]["size"] == encoder.image_size


def test_ingest_worker_path_matches_preprocess(encoder):
    """What the ingest workers run (load, to_uint8, finish) is what the encoder itself does."""
    prep = encoder.preprocessing
    for image in odd_images():
        source = Image.open(io.BytesIO(image)) if isinstance(image, bytes) else image
        workers = prep.finish(prep.to_uint8(prep.load(image)).unsqueeze(0))[0]
        own = encoder.preprocess(source)
        assert own.shape == workers.shape == (3, encoder.image_size, encoder.image_size)
        assert (own - workers).abs().max().item() <= 1e-5


def test_encodings_are_normalised_float32(encoder):
    outputs = [
        encoder.encode_images(IMAGES),
        encoder.encode_queries(IMAGES, TEXTS),
        encoder.encode_texts(TEXTS[:2]),
    ]
    for out in outputs[:2]:
        assert out.shape == (len(IMAGES), encoder.dim)
    for out in outputs:
        assert out.dtype == np.float32 and out.flags["C_CONTIGUOUS"]
        assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_image_vectors_are_encode_pixels_on_the_device(encoder):
    pixels = torch.stack([encoder.preprocess(path) for path in IMAGES])
    on_device = encoder.image_vectors(pixels)
    assert isinstance(on_device, torch.Tensor) and on_device.dtype == torch.float32
    assert on_device.device.type == encoder.device.type and on_device.shape == (len(IMAGES), encoder.dim)
    assert np.abs(on_device.cpu().numpy() - encoder.encode_pixels(pixels)).max() <= 1e-6


def test_weights_are_the_module_whose_parameters_make_the_vectors(encoder):
    """Another encoder of the preset that loads ``weights()``'s state embeds exactly alike (the Ray engine's
    actors load the driver's weights this way); changing the weights changes the vectors."""
    pixels = torch.stack([encoder.preprocess(path) for path in IMAGES])
    module = encoder.weights()
    assert isinstance(module, torch.nn.Module)
    state = {key: value.detach().clone() for key, value in module.state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in module.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
            parameter.add_(noise.to(parameter.dtype) * 0.1)
    changed = encoder.encode_pixels(pixels)
    module.load_state_dict(state)
    assert np.abs(changed - encoder.encode_pixels(pixels)).max() > 1e-4
    assert np.array_equal(encoder.encode_pixels(pixels), encoder.encode_pixels(pixels))


def test_instruction_changes_the_query_and_empty_means_image(encoder):
    images = encoder.encode_images(IMAGES[:2])
    composed = encoder.encode_queries(IMAGES[:2], ["make it blue", ""])
    assert np.abs(composed[0] - images[0]).max() > 1e-3
    assert np.abs(composed[1] - images[1]).max() <= 1e-5


def test_batching_does_not_change_vectors(encoder):
    together = encoder.encode_queries(IMAGES, TEXTS, batch_size=5)
    alone = np.concatenate([encoder.encode_queries([i], [t]) for i, t in zip(IMAGES, TEXTS)])
    assert np.abs(together - alone).max() <= 1e-5


def test_long_texts_are_truncated_at_the_limit(encoder):
    long_text = "very " * 2000 + "long"
    cut = encoder.encode_texts([long_text, "very " * 3000])
    assert np.isfinite(cut).all() and np.abs(cut[0] - cut[1]).max() <= 1e-5
    assert np.isfinite(encoder.encode_queries(IMAGES[:1], [long_text])).all()


def test_gpu_path_is_used_only_where_it_reproduces_the_preprocessing(encoder):
    prep = encoder.preprocessing
    assert prep.gpu_reproducible() == (prep.resize == "shorter-side" and prep.crop != "none")


def test_size_and_dim_are_the_listed_ones(encoder):
    preset = PRESETS[encoder.name]
    assert encoder.dim == preset.dim
    assert sum(p.numel() for p in encoder.model.parameters()) == preset.params
