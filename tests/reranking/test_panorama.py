"""The panorama: layout, visible labels, bounded JPEG size, unreadable files, no stray files."""

from __future__ import annotations

import base64
import io
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mmrag_lab.errors import ImageLoadError
from mmrag_lab.reranking.panorama import BLUE, RED, build_panorama


def _photo(path, seed: int, size=(400, 533)) -> str:
    """A real JPEG with noisy texture, so that compression has work to do."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    shade = tuple(random.Random(seed).randrange(256) for _ in range(3))
    draw.ellipse((40, 60, size[0] - 40, size[1] - 60), fill=shade)
    image.save(path, format="JPEG", quality=92)
    return str(path)


@pytest.fixture()
def photos(tmp_path):
    return [_photo(tmp_path / f"p{i}.jpg", i) for i in range(10)]


def _share(crop: Image.Image, colour, tol: int = 60) -> float:
    array = np.asarray(crop.convert("RGB")).astype(int)
    close = np.all(np.abs(array - np.array(colour)) < tol, axis=-1)
    return float(close.mean())


def test_default_layout_is_query_left_and_3x3_grid(photos):
    pano = build_panorama(photos[0], photos[1:10])
    layout = pano.layout
    assert layout.grid == (3, 3) and len(layout.tile_boxes) == 9 and len(layout.badge_boxes) == 9
    assert pano.image.size == layout.size
    assert layout.query_box[0] == 0 and all(box[0] >= layout.query_box[2] for box in layout.tile_boxes)
    rows = sorted({box[1] for box in layout.tile_boxes})
    cols = sorted({box[0] for box in layout.tile_boxes})
    assert len(rows) == 3 and len(cols) == 3


def test_query_label_is_inside_the_picture_and_drawn(photos):
    pano = build_panorama(photos[0], photos[1:10])
    x0, y0, x1, y1 = pano.layout.label_box
    width, height = pano.image.size
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    label = pano.image.crop(pano.layout.label_box)
    assert _share(label, BLUE) > 0.4  # the badge
    assert _share(label, (255, 255, 255)) > 0.05  # the white letters on it
    # The border: the query frame's left edge is blue from top to bottom.
    edge = pano.image.crop((0, 0, 3, pano.layout.query_box[3]))
    assert _share(edge, BLUE) > 0.9


def test_every_candidate_has_a_red_number_on_a_white_badge(photos):
    pano = build_panorama(photos[0], photos[1:10])
    for box in pano.layout.badge_boxes:
        badge = pano.image.crop(box)
        assert _share(badge, RED) > 0.1
        assert _share(badge, (255, 255, 255)) > 0.3


@pytest.mark.parametrize("max_bytes", [400_000, 60_000, 15_000])
def test_jpeg_stays_under_the_byte_budget(photos, max_bytes):
    pano = build_panorama(photos[0], photos[1:10], max_bytes=max_bytes)
    assert len(pano.jpeg) <= max_bytes
    decoded = Image.open(io.BytesIO(pano.jpeg))
    assert decoded.format == "JPEG" and decoded.size == pano.layout.size


def test_a_tight_budget_shrinks_the_picture_and_scales_the_layout(photos):
    roomy = build_panorama(photos[0], photos[1:10], max_bytes=2_000_000)
    tight = build_panorama(photos[0], photos[1:10], max_bytes=15_000)
    assert tight.layout.scale < 1.0 and roomy.layout.scale == 1.0
    assert tight.layout.size[0] < roomy.layout.size[0]
    assert tight.layout.tile_boxes[-1][2] <= tight.layout.size[0]


def test_grid_and_tile_size_are_configurable(photos):
    pano = build_panorama(photos[0], photos[1:9], grid=(2, 4), tile=128, max_bytes=2_000_000)
    assert pano.layout.grid == (2, 4) and pano.layout.tile == 128
    assert pano.layout.size[1] == 2 * 128
    assert len({box[0] for box in pano.layout.tile_boxes}) == 4


def test_fewer_candidates_than_cells_and_too_many(photos):
    pano = build_panorama(photos[0], photos[1:4])
    assert len(pano.layout.tile_boxes) == 3
    with pytest.raises(ValueError, match="larger grid"):
        build_panorama(photos[0], photos[:10], grid=(3, 3))


def test_indices_start_where_asked(photos):
    zero = build_panorama(photos[0], photos[1:3], start_index=0, max_bytes=2_000_000)
    one = build_panorama(photos[0], photos[1:3], max_bytes=2_000_000)  # numbered from 1 by default
    assert zero.layout.labels == ("0", "1") and one.layout.labels == ("1", "2")
    first = np.asarray(zero.image.crop(zero.layout.badge_boxes[0])).astype(int)
    shifted = np.asarray(one.image.crop(zero.layout.badge_boxes[0])).astype(int)
    # Badge "1" of the second picture is drawn where badge "0" was, with different strokes.
    assert one.layout.badge_boxes[0][:2] == zero.layout.badge_boxes[0][:2]
    assert np.abs(first - shifted).mean() > 5


def test_unreadable_candidate_raises_or_becomes_a_grey_tile(tmp_path, photos):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(open(photos[1], "rb").read()[:300])  # a truncated real JPEG
    with pytest.raises(ImageLoadError, match="broken.jpg"):
        build_panorama(photos[0], [photos[2], str(broken)])
    pano = build_panorama(photos[0], [photos[2], str(broken)], skip_unreadable=True)
    assert pano.layout.unreadable == (1,)


def test_unreadable_query_names_the_file(tmp_path, photos):
    with pytest.raises(ImageLoadError, match="missing.jpg"):
        build_panorama(tmp_path / "missing.jpg", photos[1:3])


def test_pil_inputs_data_url_and_no_files_written(tmp_path, monkeypatch, photos):
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    query = Image.open(photos[0]).convert("L")  # any mode works
    pano = build_panorama(query, [Image.open(p) for p in photos[1:4]])
    assert list(workdir.iterdir()) == []
    url = pano.data_url()
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == pano.jpeg
    pano.save(str(workdir / "p.jpg"))
    assert (workdir / "p.jpg").read_bytes() == pano.jpeg


def test_bad_parameters_are_refused(photos):
    with pytest.raises(ValueError):
        build_panorama(photos[0], photos[1:3], grid=(0, 3))
    with pytest.raises(ValueError):
        build_panorama(photos[0], photos[1:3], tile=8)
