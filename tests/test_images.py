"""Loading the images users really have: every odd-but-valid file becomes upright RGB, every bad one names
the file and the reason."""

from __future__ import annotations

import os

import numpy as np
import pytest
from badimages import encoded, exif_rotated_jpeg, palette_with_transparency, photo
from PIL import Image

from mmrag_lab.errors import ImageLoadError
from mmrag_lab.images import decode_image, image_size, load_image


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_cmyk_becomes_rgb_with_similar_colours(tmp_path):
    original = photo(seed=1)
    loaded = load_image(write(tmp_path, "cmyk.jpg", encoded(original.convert("CMYK"), "JPEG", quality=95)))
    assert loaded.mode == "RGB" and loaded.size == original.size
    difference = np.abs(np.asarray(loaded, float) - np.asarray(original, float)).mean()
    assert difference < 20


def test_16_bit_gray_is_scaled_not_clipped_to_white(tmp_path):
    ramp = (np.arange(64 * 48).reshape(48, 64) * 21).astype(np.uint16)  # 0 .. 64,491
    loaded = np.asarray(load_image(write(tmp_path, "gray16.png", encoded(Image.fromarray(ramp), "PNG"))))
    assert loaded.shape == (48, 64, 3)
    assert loaded[0, 0, 0] < 10 and loaded[-1, -1, 0] > 240
    assert len(np.unique(loaded[..., 0])) > 100


def test_palette_transparency_is_composited_on_white(tmp_path):
    loaded = load_image(write(tmp_path, "p.png", encoded(palette_with_transparency(), "PNG")))
    pixels = np.asarray(loaded)
    assert loaded.mode == "RGB"
    assert tuple(pixels[5, 30]) == (255, 255, 255)  # right half: palette index 0, transparent
    assert tuple(pixels[5, 5]) == (0, 0, 255)  # left half: opaque blue


def test_exif_orientation_is_applied(tmp_path):
    path = write(tmp_path, "rotated.jpg", exif_rotated_jpeg())
    assert load_image(path).size == (64, 96)
    assert image_size(path) == (64, 96)
    assert image_size(path.read_bytes()) == (64, 96)


def test_one_pixel_image(tmp_path):
    loaded = load_image(write(tmp_path, "dot.png", encoded(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG")))
    assert loaded.size == (1, 1) and loaded.getpixel((0, 0)) == (200, 10, 10)


def test_draft_decoding_keeps_both_sides_above_the_target(tmp_path):
    data = encoded(photo(640, 480, seed=2), "JPEG")
    drafted = decode_image(data, draft=224)
    assert drafted.size == (320, 240)
    assert decode_image(data).size == (640, 480)


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("zero.jpg", b"", "empty file"),
        ("notes.jpg", b"plain text, not an image\n" * 10, "not a recognised image format"),
    ],
)
def test_bad_bytes_name_the_file_and_the_reason(tmp_path, name, data, reason):
    path = write(tmp_path, name, data)
    with pytest.raises(ImageLoadError) as caught:
        load_image(path)
    assert caught.value.path == str(path) and reason in caught.value.reason


def test_truncated_jpeg_is_refused(tmp_path):
    data = encoded(photo(200, 150, seed=3), "JPEG")
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(write(tmp_path, "cut.jpg", data[: len(data) // 2]))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = write(tmp_path, "bomb.png", encoded(Image.new("1", (10_000, 9_000)), "PNG"))
    assert path.stat().st_size < 200_000  # tiny file, 90 million pixels
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        load_image(path)


def test_missing_directory_and_dangling_symlink(tmp_path):
    with pytest.raises(ImageLoadError, match="file not found"):
        load_image(tmp_path / "absent.jpg")
    (tmp_path / "folder.jpg").mkdir()
    with pytest.raises(ImageLoadError, match="directory"):
        load_image(tmp_path / "folder.jpg")
    os.symlink(tmp_path / "gone.jpg", tmp_path / "link.jpg")
    with pytest.raises(ImageLoadError, match="file not found"):
        load_image(tmp_path / "link.jpg")


def test_non_utf8_file_name(tmp_path):
    name = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jpg")
    with open(name, "wb") as handle:
        handle.write(encoded(photo(seed=4), "JPEG"))
    assert load_image(name).size == (96, 64)
    assert load_image(os.fsdecode(name)).size == (96, 64)
