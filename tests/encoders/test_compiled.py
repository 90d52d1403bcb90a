"""The compiled model: the same vectors as eager where ``torch.compile`` runs on this CPU (skipped, with
the reason, where it cannot), and eager with one line saying so where compiling fails."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import torch
from badimages import encoded, photo

from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store

CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


def fresh_tiny():
    """A tiny encoder of its own: a compile failure stays with the encoder that had it."""
    from mmrag_lab.encoders import load_encoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_encoder("tiny", weights="untrained", device="cpu")


def folder_of_photos(tmp_path, count: int = 6):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(count):
        (folder / f"p{i}.jpg").write_bytes(encoded(photo(80, 60, seed=i), "JPEG"))
    return folder


def vectors(config: Config) -> dict[str, np.ndarray]:
    with Store.open(config) as store:
        return {row["rel_path"]: np.asarray(row["vector"]) for row in store.iterate(("vector", "rel_path"))}


def eager_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "runs eager" in r.getMessage()]


def compile_blocker(tmp_path) -> str | None:
    """Why torch.compile cannot run on this machine, or None when it can."""
    try:
        torch.compile(lambda x: x * 2 + 1, dynamic=False)(torch.ones(3))
    except Exception as exc:
        return f"torch.compile cannot run on this CPU: {type(exc).__name__}: {str(exc)[:200]}"
    return None


@pytest.mark.slow
# None: the configuration's own mode (CUDA graphs, which torch runs as plain compiled code on a CPU)
@pytest.mark.parametrize("mode", [None, "default"])
def test_compiled_and_eager_ingest_store_the_same_vectors(tmp_path, monkeypatch, caplog, mode):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "probe_cache"))
    blocker = compile_blocker(tmp_path)
    if blocker:
        pytest.skip(blocker)
    monkeypatch.delenv(CACHE_ENV)
    folder = folder_of_photos(tmp_path)
    encoder = fresh_tiny()
    calls = []
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda *a, **k: calls.append(k) or real_compile(*a, **k))
    out = {}
    env = {} if mode is None else {"MMRAG_COMPILE_MODE": mode}
    for compiled in (False, True):
        config = Config.load(env=env, milvus_uri=str(tmp_path / "c.db"), collection=f"c{int(compiled)}",
                             cache_dir=str(tmp_path / "cache"))  # fmt: skip
        with caplog.at_level(logging.WARNING):
            report = ingest(folder, config=config, encoder=encoder, batch_size=4, progress=False,
                            options=IngestOptions(workers=0, compile=compiled))  # fmt: skip
        assert report.ingested == 6
        out[compiled] = vectors(config)
    # compiled once, with static shapes, in the mode asked for (torch's own default takes no mode argument)
    assert calls == [
        {"dynamic": False} if mode == "default" else {"dynamic": False, "mode": "reduce-overhead"}
    ]
    assert eager_lines(caplog) == []  # and it ran compiled: no fallback was taken
    assert any((tmp_path / "cache" / "torch_compile").iterdir())  # the on-disk cache under cache_dir
    assert out[True].keys() == out[False].keys()
    for key, eager in out[False].items():
        assert float(eager @ out[True][key]) >= 0.9999
        np.testing.assert_allclose(out[True][key], eager, atol=1e-4)


@pytest.mark.parametrize("where", ["at compile", "at the first call"])
@pytest.mark.slow
def test_a_failing_compile_runs_eager_and_says_so_once(tmp_path, monkeypatch, caplog, where):
    def refuse(*args, **kwargs):
        raise RuntimeError("no C compiler\nsecond line")

    def failing(*args, **kwargs):
        return refuse

    monkeypatch.setattr(torch, "compile", refuse if where == "at compile" else failing)
    folder = folder_of_photos(tmp_path)
    encoder = fresh_tiny()
    config = Config.load(env={}, milvus_uri=str(tmp_path / "f.db"), collection="f", cache_dir=str(tmp_path))
    eager_config = Config.load(env={}, milvus_uri=str(tmp_path / "f.db"), collection="e")
    with caplog.at_level(logging.WARNING):
        report = ingest(folder, config=config, encoder=encoder, batch_size=4, progress=False,
                        options=IngestOptions(workers=0, compile=True))  # fmt: skip
    assert report.ingested == report.encoded == 6  # two batches, both eager
    assert eager_lines(caplog) == ["tiny runs eager: torch.compile failed here (RuntimeError: no C compiler)"]
    ingest(folder, config=eager_config, encoder=encoder, batch_size=4, progress=False,
           options=IngestOptions(workers=0, compile=False))  # fmt: skip
    got, want = vectors(config), vectors(eager_config)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-6)


def test_compile_is_off_on_the_cpu_unless_asked_and_on_for_large_cuda_jobs(tiny_encoder):
    from mmrag_lab.ingestion.encode_loop import COMPILE_MIN_IMAGES, should_compile

    assert not should_compile(tiny_encoder, 10 * COMPILE_MIN_IMAGES, None)
    assert should_compile(tiny_encoder, 1, True)

    class OnCuda:
        device = torch.device("cuda")

    assert should_compile(OnCuda(), COMPILE_MIN_IMAGES, None)
    assert not should_compile(OnCuda(), COMPILE_MIN_IMAGES - 1, None)
    assert not should_compile(OnCuda(), COMPILE_MIN_IMAGES, False)


def test_the_empty_instruction_is_tokenised_once_and_gives_the_vectors_of_explicit_empty_ones(monkeypatch):
    encoder = fresh_tiny()
    size = encoder.image_size
    pixels = encoder.preprocessing.finish(torch.randint(0, 256, (4, 3, size, size), dtype=torch.uint8))
    calls = []
    real = encoder.tokenize
    monkeypatch.setattr(encoder, "tokenize", lambda texts, n: calls.append(list(texts)) or real(texts, n))
    alone = [encoder.encode_pixels(pixels) for _ in range(3)]
    assert calls == [[""]]  # once for the device, not once per batch or per image
    explicit = encoder.encode_pixels(pixels, [""] * 4)
    for vectors in alone:
        np.testing.assert_allclose(vectors, explicit, atol=1e-6)
