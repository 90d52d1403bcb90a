"""The ingest runner on real parts: full batches only (the last one padded, padding never a row), counted
in a real Milvus Lite file; the reader trusting the plan's hash only while the file's stamp vouches for it."""

from __future__ import annotations

import contextlib
import dataclasses
import os

import numpy as np
import pytest
from badimages import encoded, photo

from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError, ImageLoadError
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.ingestion.reader import Task, read_checked
from mmrag_lab.ingestion.scan import RACY_NS, ImageFile, content_id, hash_stamped
from mmrag_lab.store.vector_store import Store


def write_photos(folder, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"img_{i:02d}.jpg").write_bytes(encoded(photo(80, 60, seed=i), "JPEG"))


def lite(tmp_path, name: str = "c") -> Config:
    return Config.load(env={}, milvus_uri=str(tmp_path / "runner.db"), collection=name)


def spy_batches(monkeypatch, encoder) -> list[int]:
    """Record the batch size of every call into the real encoder."""
    seen: list[int] = []
    real = encoder.image_vectors

    def recording(pixels):
        seen.append(len(pixels))
        return real(pixels)

    monkeypatch.setattr(encoder, "image_vectors", recording)
    return seen


@pytest.mark.parametrize("gpu_decode", [False, True], ids=["cpu-mapper", "gpu-mapper"])
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "eager"])
def test_the_last_partial_batch_is_padded_and_its_padding_never_becomes_a_row(
    tmp_path, tiny_encoder, monkeypatch, gpu_decode, compiled
):
    folder = tmp_path / "photos"
    write_photos(folder, 10)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    seen = spy_batches(monkeypatch, tiny_encoder)
    # the compiled forward itself is tested in tests/encoders/test_compiled.py; here only its batches matter
    monkeypatch.setattr(
        tiny_encoder, "compiled", lambda cache_dir=None, mode="default": contextlib.nullcontext()
    )
    config = lite(tmp_path)
    options = IngestOptions(workers=0, gpu_decode=gpu_decode, compile=compiled)
    report = ingest(
        folder, config=config, encoder=tiny_encoder, batch_size=4, progress=False, options=options
    )
    # 11 files in batches of 4, the first of which loses the broken file: padded to 4 for a compiled model;
    # an eager one gets 10 images as they come
    # (GPU mappers work side by side, so batches may arrive in any order)
    assert sorted(seen) == sorted([4, 4, 4] if compiled else [3, 4, 3])
    assert report.encoded == report.ingested == 10
    assert [f["path"] for f in report.failed] == [str(os.path.realpath(folder / "broken.jpg"))]
    with Store.open(config) as store:
        assert store.count() == 10
        rows = list(store.iterate(("vector", "rel_path")))
    assert sorted(r["rel_path"] for r in rows) == [f"img_{i:02d}.jpg" for i in range(10)]
    vectors = np.array([r["vector"] for r in rows])
    assert len({v.tobytes() for v in vectors.round(5)}) == 10  # no row holds a padding image's vector


def test_padded_vectors_are_those_of_an_unpadded_batch(tiny_encoder, tmp_path):
    import torch

    from mmrag_lab.ingestion.staging import Staging

    prep = tiny_encoder.preprocessing
    pixels = torch.randint(0, 256, (3, 3, prep.size, prep.size), dtype=torch.uint8)
    padded = Staging(8, prep.size, tiny_encoder.device).to_device(pixels)
    assert padded.shape == (8, 3, prep.size, prep.size) and not padded[3:].any()
    alone = tiny_encoder.encode_pixels(prep.finish(pixels))
    within = tiny_encoder.encode_pixels(prep.finish(padded))[:3]
    np.testing.assert_allclose(within, alone, atol=1e-5)


def _task(path, digest: str, stamp=None) -> Task:
    file = ImageFile(os.fsencode(path), str(path), path.name, path.stat().st_size)
    return Task(file, digest, (), stamp)


def test_a_stamp_older_than_the_hash_spares_the_second_hash_and_a_rewrite_is_still_caught(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(encoded(photo(seed=1), "JPEG"))
    digest, stamp = hash_stamped(os.fsencode(path))
    assert digest == content_id(path.read_bytes())
    settled = dataclasses.replace(stamp, taken_ns=stamp.ctime_ns + RACY_NS + 1)  # hashed long after a change
    # trusted: the read does not hash again, so even a wrong planned id is not noticed
    assert read_checked(_task(path, "0" * 64, settled)) == path.read_bytes()
    with pytest.raises(ImageLoadError, match="changed while ingesting"):  # just changed: hashed again
        read_checked(_task(path, "0" * 64, stamp))
    path.write_bytes(encoded(photo(seed=2), "JPEG"))
    with pytest.raises(ImageLoadError, match="changed while ingesting"):  # the stamp moved: hashed again
        read_checked(_task(path, digest, settled))
    assert read_checked(_task(path, content_id(path.read_bytes()), settled)) == path.read_bytes()


def test_compile_setting_reads_auto_on_off_and_refuses_other_words():
    assert Config.load(env={}).compile_choice() is None
    assert Config.load(env={"MMRAG_COMPILE": "off"}).compile_choice() is False
    assert Config.load(env={"MMRAG_COMPILE": "1"}).compile_choice() is True
    assert Config.load(env={}, compile=True).compile == "on"
    with pytest.raises(ConfigError, match="auto, on or off"):
        Config.load(env={"MMRAG_COMPILE": "sometimes"})


def test_compile_mode_is_cuda_graphs_unless_set_and_refuses_modes_torch_lacks():
    assert Config.load(env={}).compile_mode == "reduce-overhead"
    assert Config.load(env={"MMRAG_COMPILE_MODE": " Default "}).compile_mode == "default"
    with pytest.raises(ConfigError, match="MMRAG_COMPILE_MODE must be one of default, reduce-overhead"):
        Config.load(env={"MMRAG_COMPILE_MODE": "fastest"})


def test_the_compile_flag_reaches_ingest():
    from mmrag_lab.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["ingest", "/data"]).compile is None
    assert parser.parse_args(["ingest", "/data", "--no-compile", "--devices", "cuda:0"]).compile is False
    assert parser.parse_args(["ingest", "/d", "--compile"]).compile is True


@pytest.mark.parametrize("mappers", [1, 2, 3, 9])
def test_gpu_mappers_share_whole_batches_and_every_file_once(tmp_path, tiny_encoder, mappers):
    from mmrag_lab.ingestion.encode_loop import RunOptions, open_mappers
    from mmrag_lab.ingestion.scan import hash_files, scan_images

    folder = tmp_path / "photos"
    write_photos(folder, 11)
    files = scan_images(folder).files
    tasks = [Task(file, digest) for file, digest in zip(files, hash_files(files), strict=True)]
    options = RunOptions(batch_size=4, gpu_decode=True, gpu_mappers=mappers, progress=False)
    sources = open_mappers(tasks, tiny_encoder, options)
    assert len(sources) == min(mappers, 3)  # 11 files in batches of 4: never more mappers than batches
    batches = [batch for source in sources for batch in source]
    assert sorted(len(b.tasks) for b in batches) == [3, 4, 4]
    assert sorted(t.file.rel for b in batches for t in b.tasks) == sorted(t.file.rel for t in tasks)
