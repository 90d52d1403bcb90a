"""GPU decoding and preprocessing (run here on the CPU, where torchvision decodes with libjpeg-turbo like
Pillow) against the CPU path pixel for pixel, and the overlapped GPU ingest stage against the CPU one."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from badimages import build_corpus
from PIL import Image

from mmrag_lab.ingestion import gpu_decode as G
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store
from mmrag_lab.workbench.runtime.sample import sample_dir

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="%d"/></x:xmpmeta>'


def real_photos(count: int = 40) -> list:
    return sorted(sample_dir().rglob("*.jpg"))[:count]


def _jpeg(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _insert_app(data: bytes, marker: int, payload: bytes) -> bytes:
    return data[:2] + bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


def _big_endian_exif(orientation: int) -> bytes:
    ifd = (
        (1).to_bytes(2, "big")
        + bytes.fromhex("0112 0003 00000001")
        + orientation.to_bytes(2, "big")
        + bytes(6)
    )
    return b"Exif\0\0MM\0*" + (8).to_bytes(4, "big") + ifd


def _patch_sof(data: bytes, offset: int, value: int) -> bytes:
    """Change one byte of the first SOF segment (offset 0 = the marker's second byte)."""
    at = data.index(b"\xff\xc0") + 1
    return data[: at + offset] + bytes([value]) + data[at + offset + 1 :]


def odd_cases() -> dict[str, tuple[bytes, bool]]:
    """name -> (bytes, expected on the GPU path)."""
    photo = Image.open(real_photos(1)[0]).convert("RGB")
    rng = np.random.default_rng(0)
    big = photo.resize((2000, 1500), Image.BICUBIC)
    big = Image.fromarray(
        np.clip(np.asarray(big) + rng.normal(0, 6, (1500, 2000, 3)), 0, 255).astype(np.uint8)
    )
    cases = {
        "tiny_1x1": (_jpeg(photo.resize((1, 1))), True),
        "tiny_3x2": (_jpeg(photo.resize((3, 2))), True),
        "small_50x37_upscaled": (_jpeg(photo.resize((50, 37))), True),
        "wide_3000x60": (_jpeg(photo.resize((3000, 60))), True),
        "tall_60x2000_vertical_first": (_jpeg(photo.resize((60, 2000))), True),
        "tall_400x900_vertical_first": (_jpeg(photo.resize((400, 900))), True),
        "big_2000x1500": (_jpeg(big, quality=90), True),
        "width_224_no_horizontal_pass": (_jpeg(photo.resize((224, 301))), True),
        "height_224_no_vertical_pass": (_jpeg(photo.resize((301, 224))), True),
        "exact_224x224_no_resize": (_jpeg(photo.resize((224, 224))), True),
        "crop_offset_36.5_rounds_to_36": (_jpeg(photo.resize((400, 531))), True),
        "grey": (_jpeg(photo.convert("L")), True),
        "progressive": (_jpeg(photo, progressive=True), True),
        "subsampling_444": (_jpeg(photo, subsampling=0), True),
        "subsampling_422": (_jpeg(photo, subsampling=1), True),
        "quality_100": (_jpeg(photo, quality=100), True),
        "restart_markers": (_jpeg(photo, restart_marker_rows=1), True),
        "odd_size_401x533": (_jpeg(photo.resize((401, 533))), True),
        "trailing_bytes_after_eoi": (_jpeg(photo) + b"trailing junk", True),
        "mpo_two_frames": (_jpeg(photo, "MPO", save_all=True, append_images=[photo.rotate(90)]), True),
        "exif_big_endian_6": (_insert_app(_jpeg(photo), 0xE1, _big_endian_exif(6)), True),
        "xmp_orientation_8": (_jpeg(photo, xmp=XMP % 8), True),
        "exif_3_beats_xmp_6": (_jpeg(photo, exif=_exif(3), xmp=XMP % 6), True),
        "exif_orientation_9_ignored": (_jpeg(photo, exif=_exif(9)), True),
        "png": (_jpeg(photo, "PNG"), False),
        "webp": (_jpeg(photo, "WEBP"), False),
        "cmyk": (_jpeg(photo.convert("CMYK")), False),
        "cmyk_exif_6": (_jpeg(photo.convert("CMYK"), exif=_exif(6)), False),
        "truncated": (_jpeg(photo)[:6000], False),
        "adobe_rgb_transform_0": (_insert_app(_jpeg(photo), 0xEE, b"Adobe\0\x64\0\0\0\0\0"), False),
        "arithmetic_sof9": (_jpeg(photo).replace(b"\xff\xc0", b"\xff\xc9", 1), False),
        "precision_12": (_patch_sof(_jpeg(photo), 3, 12), False),
        "empty": (b"", False),
        "not_an_image": (b"hello world", False),
    }
    for orientation in range(1, 9):
        cases[f"exif_orientation_{orientation}"] = (
            _jpeg(photo.resize((300, 200)), exif=_exif(orientation)),
            True,
        )
    return cases


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def _reference(data: bytes) -> torch.Tensor | str:
    try:
        return G.cpu_pixels(data)
    except Exception as exc:
        return getattr(exc, "reason", str(exc))


@pytest.fixture(scope="module")
def odd():
    return odd_cases()


def test_real_photos_are_bit_exact():
    datas = [path.read_bytes() for path in real_photos()]
    result = G.prepare_batch(datas, device="cpu", decode_device="cpu")
    assert set(result.route.values()) == {"gpu"} and result.ok == list(range(len(datas)))
    mismatched = [
        i for i, data in zip(result.ok, datas) if not torch.equal(result.pixels[i], G.cpu_pixels(data))
    ]
    assert mismatched == []


def test_odd_cases_match_the_cpu_path(odd):
    names = list(odd)
    result = G.prepare_batch([odd[name][0] for name in names], device="cpu", decode_device="cpu")
    for index, name in enumerate(names):
        assert (result.route[index] == "gpu") == odd[name][1], (name, result.route[index])
        reference = _reference(odd[name][0])
        if isinstance(reference, str):
            assert result.errors.get(index) == reference, name
        else:
            assert torch.equal(result.pixels[result.ok.index(index)], reference), name


def test_orientation_is_read_like_pillow(odd):
    for name, (data, on_gpu) in odd.items():
        if on_gpu:
            with Image.open(io.BytesIO(data)) as image:
                expected = image.getexif().get(0x0112, 1)
            assert G.parse_jpeg(data).orientation == expected, name


@pytest.mark.parametrize(
    ("name", "reason"),
    [("png", "not a JPEG"), ("cmyk", "4 components"), ("truncated", "no end-of-image"), ("precision_12", "12-bit"),
     ("arithmetic_sof9", "SOF9"), ("adobe_rgb_transform_0", "coded as RGB"), ("empty", "not a JPEG")],
)  # fmt: skip
def test_fallback_reasons(odd, name, reason):
    with pytest.raises(G.NeedsCpu, match=reason):
        G.parse_jpeg(odd[name][0])


def test_unusual_sampling_and_exif_go_to_the_cpu(odd):
    data = odd["quality_100"][0]
    at = data.index(b"\xff\xc0") + 11  # first component's sampling byte
    with pytest.raises(G.NeedsCpu, match="sampling"):
        G.parse_jpeg(data[:at] + b"\x12" + data[at + 1 :])  # 4:4:0
    broken = _insert_app(data, 0xE1, b"Exif\0\0II*\0" + (4000).to_bytes(4, "little"))
    with pytest.raises(G.NeedsCpu, match="EXIF"):
        G.parse_jpeg(broken)


def test_resize_is_pillow_exact_on_random_sizes():
    rng = np.random.default_rng(1)
    for _ in range(80):
        w, h, out_w, out_h = (int(v) for v in rng.integers(1, 400, 4))
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        expected = np.asarray(Image.fromarray(pixels).resize((out_w, out_h), Image.BICUBIC))
        got = G.pillow_resize(torch.from_numpy(pixels).permute(2, 0, 1)[None], out_w, out_h)
        assert np.array_equal(got[0].permute(1, 2, 0).numpy(), expected), (w, h, out_w, out_h)


def test_upright_matches_exif_transpose():
    from PIL import ImageOps

    pixels = np.random.default_rng(2).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    for orientation in range(1, 9):
        data = _jpeg(Image.fromarray(pixels), exif=_exif(orientation), quality=100, subsampling=0)
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
        got = (
            G.upright(torch.from_numpy(decoded.copy()).permute(2, 0, 1), orientation).permute(1, 2, 0).numpy()
        )
        assert np.array_equal(got, expected), orientation


def test_normalize_gives_the_encoders_floats(odd):
    from mmrag_lab.encoders.visualized_bge.encoder import eva_preprocessing

    data = odd["exif_orientation_6"][0]
    prep = eva_preprocessing(224)
    expected = prep(data)
    assert torch.equal(prep.finish(G.prepare_batch([data], prep, device="cpu").pixels)[0], expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_resize_is_exact_and_nvjpeg_is_reported(odd):
    datas = [path.read_bytes() for path in real_photos()] + [data for data, _ in odd.values()]
    reference = G.prepare_batch(datas, device="cpu", decode_device="cpu")
    on_cuda = G.prepare_batch(datas, device="cuda", decode_device="cpu")  # libjpeg-turbo + CUDA resize
    assert on_cuda.ok == reference.ok and torch.equal(on_cuda.pixels.cpu(), reference.pixels)
    nvjpeg = G.prepare_batch(datas, device="cuda", decode_device="cuda")  # nvJPEG decode
    assert nvjpeg.ok == reference.ok
    diff = (nvjpeg.pixels.cpu().long() - reference.pixels.long()).abs()
    print(
        f"\nnvJPEG vs libjpeg-turbo after resize: max {int(diff.max())}, {float((diff > 0).float().mean()):.4f}"
    )
    print({i: r for i, r in nvjpeg.route.items() if r != reference.route[i]})


def _rows(config) -> dict:
    with Store.open(config) as store:
        return {r["id"]: r for r in store.iterate(("path", "width", "height", "file_size", "vector"))}


@pytest.mark.slow
def test_gpu_stage_stores_what_the_cpu_stage_stores(tmp_path, tiny_encoder):
    """Same rows, vectors and failure reasons; odd formats take the per-file CPU fallback without error."""
    corpus = build_corpus(tmp_path / "corpus", tmp_path / "outside")
    reports, rows = {}, {}
    runs = [("cpu", None, IngestOptions(gpu_decode=False)), ("gpu", 4, IngestOptions(gpu_decode=True)),
            ("split", None, IngestOptions(gpu_decode=True, cpu_share=0.5, workers=0))]  # fmt: skip
    for name, batch_size, options in runs:
        config = _config(tmp_path, name)
        reports[name] = ingest(corpus.root, config=config, encoder=tiny_encoder, batch_size=batch_size,
                               progress=False, options=options)  # fmt: skip
        rows[name] = _rows(config)
    failures = {name: sorted((f["path"], f["reason"]) for f in r.failed) for name, r in reports.items()}
    assert failures["gpu"] == failures["split"] == failures["cpu"]
    for name in ("gpu", "split"):
        assert reports[name].ingested == reports["cpu"].ingested >= len(corpus.good)
        assert rows[name].keys() == rows["cpu"].keys()
        for key, row in rows["cpu"].items():
            assert (rows[name][key]["width"], rows[name][key]["height"]) == (row["width"], row["height"])
            np.testing.assert_allclose(rows[name][key]["vector"], row["vector"], atol=1e-5)


def _config(tmp_path, name):
    from mmrag_lab.config import Config

    return Config.load(env={}, milvus_uri=str(tmp_path / "db.db"), collection=name, encoder="tiny",
                       weights="untrained", device="cpu")  # fmt: skip
