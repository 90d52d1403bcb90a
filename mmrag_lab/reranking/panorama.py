"""The picture a multimodal LLM ranks from: the query on the left, numbered candidates in a grid.

The query gets a blue border and a visible "query" label; each candidate gets its index as a red number on a
white badge. The result is a JPEG whose size is kept under a byte budget, which bounds upload and token cost.
Everything happens in memory: no temporary files.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont, ImageOps

from mmrag_lab.errors import ImageLoadError
from mmrag_lab.images import ImageSource, load_image
from mmrag_lab.reranking.prompt import FIRST_NUMBER

Box = tuple[int, int, int, int]
BLUE = (24, 78, 220)
RED = (220, 20, 20)
WHITE = (255, 255, 255)
EMPTY_TILE = (236, 236, 236)
QUALITIES = (85, 70, 55, 40)
MIN_SIDE = 96


@dataclass(frozen=True)
class PanoramaOptions:
    """How a reranking panorama is drawn: ``rerank(..., panorama=PanoramaOptions(grid=(2, 4)))``.

    Attributes:
        grid: ``(rows, cols)`` of the candidate grid; only the first ``rows * cols`` candidates are shown.
        tile: Tile side in pixels.
        max_bytes: Upper bound on the JPEG's size (quality, then scale, give way to it).
    """

    grid: tuple[int, int] = (3, 3)
    tile: int = 300
    max_bytes: int = 400_000


@dataclass(frozen=True)
class PanoramaLayout:
    """Where things are in the final JPEG (pixel boxes ``(x0, y0, x1, y1)``, already scaled)."""

    grid: tuple[int, int]
    tile: int
    size: tuple[int, int]
    scale: float
    quality: int
    query_box: Box
    label_box: Box
    tile_boxes: tuple[Box, ...]
    badge_boxes: tuple[Box, ...]
    unreadable: tuple[int, ...] = ()
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Panorama:
    """A built panorama: the picture, its JPEG bytes and its layout."""

    image: Image.Image = field(repr=False)
    jpeg: bytes = field(repr=False)
    layout: PanoramaLayout

    def data_url(self) -> str:
        """The JPEG as a ``data:`` URL, the form chat endpoints accept for inline images."""
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")

    def save(self, path: str) -> None:
        """Write the picture; the format follows the suffix (``.jpg`` writes the exact JPEG bytes)."""
        if str(path).lower().endswith((".jpg", ".jpeg")):
            with open(path, "wb") as handle:
                handle.write(self.jpeg)
        else:
            self.image.save(path)

    def _repr_jpeg_(self) -> bytes:
        return self.jpeg


def build_panorama(
    query_image: ImageSource,
    candidates: Sequence[ImageSource],
    *,
    grid: tuple[int, int] = (3, 3),
    tile: int = 300,
    max_bytes: int = 400_000,
    start_index: int = FIRST_NUMBER,
    skip_unreadable: bool = False,
) -> Panorama:
    """Draw the query and its candidates into one JPEG under a byte budget.

    Args:
        query_image: The query picture (path or PIL image).
        candidates: Candidate pictures in retrieval order; candidate ``i`` is labelled ``start_index + i``.
        grid: ``(rows, cols)`` of the candidate grid.
        tile: Side of one candidate tile in pixels, before any downscaling for the byte budget.
        max_bytes: Upper bound on the JPEG size; quality drops, then the picture shrinks, until it fits.
        start_index: Number printed on the first candidate (1, as in the prompt and every grid).
        skip_unreadable: Draw a grey "unreadable" tile instead of raising for a broken candidate file.

    Raises:
        ValueError: More candidates than grid cells, a size parameter out of range, or a budget so small
            that even a thumbnail does not fit.
        ImageLoadError: The query (or, unless ``skip_unreadable``, a candidate) cannot be read.
    """
    rows, cols = grid
    if rows < 1 or cols < 1 or tile < 32 or max_bytes < 10_000:
        raise ValueError("grid needs rows, cols >= 1; tile >= 32 px; max_bytes >= 10000")
    if len(candidates) > rows * cols:
        raise ValueError(f"{len(candidates)} candidates do not fit a {rows}x{cols} grid; pass a larger grid")
    side, gap = rows * tile, max(4, tile // 25)
    canvas = Image.new("RGB", (side + gap + cols * tile, side), WHITE)
    draw = ImageDraw.Draw(canvas)
    query_box, label_box = _draw_query(canvas, draw, load_image(query_image), side)
    tiles, badges, unreadable = [], [], []
    for i, source in enumerate(candidates):
        box = (side + gap + (i % cols) * tile, (i // cols) * tile)
        box = (*box, box[0] + tile, box[1] + tile)
        picture = _load_candidate(source, tile, skip_unreadable)
        if picture is None:
            unreadable.append(i)
        _paste_fit(canvas, picture, box, inset=max(2, tile // 60))
        draw.rectangle(box, outline=(205, 205, 205))
        tiles.append(box)
        badges.append(_draw_badge(draw, str(start_index + i), box, tile))
    for j in range(len(candidates), rows * cols):
        x0, y0 = side + gap + (j % cols) * tile, (j // cols) * tile
        draw.rectangle((x0 + 2, y0 + 2, x0 + tile - 3, y0 + tile - 3), fill=EMPTY_TILE)
    image, jpeg, quality, scale = _encode_bounded(canvas, max_bytes)
    layout = PanoramaLayout(
        grid=(rows, cols),
        tile=tile,
        size=image.size,
        scale=scale,
        quality=quality,
        query_box=_scaled(query_box, scale),
        label_box=_scaled(label_box, scale),
        tile_boxes=tuple(_scaled(b, scale) for b in tiles),
        badge_boxes=tuple(_scaled(b, scale) for b in badges),
        unreadable=tuple(unreadable),
        labels=tuple(str(start_index + i) for i in range(len(candidates))),
    )
    return Panorama(image=image, jpeg=jpeg, layout=layout)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has a single fixed-size bitmap font
        return ImageFont.load_default()


def _draw_query(canvas: Image.Image, draw: ImageDraw.ImageDraw, query: Image.Image, side: int):
    border = max(4, side // 90)
    _paste_fit(canvas, query, (0, 0, side, side), inset=border + 2)
    draw.rectangle((0, 0, side - 1, side - 1), outline=BLUE, width=border)
    font = _font(max(14, side // 14))
    left, top, right, bottom = draw.textbbox((0, 0), "query", font=font)
    pad = max(4, side // 90)
    label = (border, border, border + right - left + 2 * pad, border + bottom - top + 2 * pad)
    draw.rectangle(label, fill=BLUE)
    draw.text((label[0] + pad - left, label[1] + pad - top), "query", font=font, fill=WHITE)
    return (0, 0, side, side), label


def _draw_badge(draw: ImageDraw.ImageDraw, text: str, box: Box, tile: int) -> Box:
    font = _font(max(14, tile // 6))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=1)
    pad, line = max(3, tile // 40), max(2, tile // 100)
    badge = (box[0] + 2, box[1] + 2, box[0] + 2 + right - left + 2 * pad, box[1] + 2 + bottom - top + 2 * pad)
    draw.rectangle(badge, fill=WHITE, outline=RED, width=line)
    origin = (badge[0] + pad - left, badge[1] + pad - top)
    draw.text(origin, text, font=font, fill=RED, stroke_width=1, stroke_fill=RED)
    return badge


def _load_candidate(source: ImageSource, tile: int, skip_unreadable: bool) -> Image.Image | None:
    try:
        return load_image(source, draft=tile)
    except ImageLoadError:
        if not skip_unreadable:
            raise
        return None


def _paste_fit(canvas: Image.Image, picture: Image.Image | None, box: Box, inset: int) -> None:
    x0, y0, x1, y1 = box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset
    if picture is None:
        ImageDraw.Draw(canvas).rectangle((x0, y0, x1, y1), fill=(160, 160, 160))
        ImageDraw.Draw(canvas).text((x0 + 8, (y0 + y1) // 2), "unreadable", font=_font(18), fill=WHITE)
        return
    fitted = ImageOps.contain(picture, (x1 - x0, y1 - y0), Image.Resampling.BICUBIC)
    canvas.paste(fitted, (x0 + (x1 - x0 - fitted.width) // 2, y0 + (y1 - y0 - fitted.height) // 2))


def _encode_bounded(canvas: Image.Image, max_bytes: int) -> tuple[Image.Image, bytes, int, float]:
    scale, image = 1.0, canvas
    while True:
        for quality in QUALITIES:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality, optimize=True)
            if buffer.tell() <= max_bytes:
                return image, buffer.getvalue(), quality, scale
        # Lower quality no longer suffices: shrink the picture and try again.
        scale *= 0.75
        size = (round(canvas.width * scale), round(canvas.height * scale))
        if min(size) < MIN_SIDE:
            raise ValueError(f"the panorama cannot fit in {max_bytes} bytes; allow a larger max_bytes")
        image = canvas.resize(size, Image.Resampling.LANCZOS)


def _scaled(box: Box, scale: float) -> Box:
    return tuple(round(v * scale) for v in box)  # type: ignore[return-value]
