"""Builds a folder of the images users really have: odd formats that must get in, broken files that must not.

Unreadable files: the tests run as root, and root reads a ``chmod 000`` file anyway. The corpus therefore
uses two entries that no process can read as an image: a dangling symlink (its target does not exist)
and a FIFO named ``.jpg`` (a naive reader would block on it forever).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

NON_UTF8_NAME = b"caf\xe9 cr\xe8me.jpg"  # Latin-1 bytes, invalid as UTF-8


@dataclass
class Corpus:
    """What the folder holds and what ingest must make of it.

    Attributes:
        root: The folder.
        good: Relative path (display form) -> expected upright (width, height); each must be stored.
        duplicates: Relative paths whose bytes equal an earlier good file.
        bad: Relative path (display form) -> a fragment of the reason the report must give.
    """

    root: Path
    good: dict[str, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    bad: dict[str, str] = field(default_factory=dict)

    @property
    def seen(self) -> int:
        return len(self.good) + len(self.duplicates) + len(self.bad)


def photo(width: int = 96, height: int = 64, seed: int = 0) -> Image.Image:
    """A smooth, photo-like RGB picture (gradients plus a little noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / max(width - 1, 1), y * 255 / max(height - 1, 1), (x + y) % 256], axis=-1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def build_corpus(root: Path, outside: Path) -> Corpus:
    """Write the corpus into ``root``; ``outside`` receives a file that a symlink points to."""
    corpus = Corpus(root)
    sub = root / "nested" / "deeper"
    sub.mkdir(parents=True)

    def good(rel: str | bytes, data: bytes, size: tuple[int, int]) -> None:
        path = os.path.join(os.fsencode(root), os.fsencode(rel))
        with open(path, "wb") as handle:
            handle.write(data)
        corpus.good[os.fsencode(rel).decode("utf-8", "backslashreplace")] = size

    def bad(rel: str, data: bytes, reason: str) -> None:
        (root / rel).write_bytes(data)
        corpus.bad[rel] = reason

    jpeg = encoded(photo(seed=1), "JPEG", quality=90)
    good("plain.jpg", jpeg, (96, 64))
    good("UPPER.JPEG", encoded(photo(seed=2), "JPEG"), (96, 64))
    good("cmyk.jpg", encoded(photo(seed=3).convert("CMYK"), "JPEG"), (96, 64))
    gray16 = Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 21).astype(np.uint16))
    good("gray16.png", encoded(gray16, "PNG"), (64, 48))
    good("palette_alpha.png", encoded(palette_with_transparency(), "PNG"), (40, 30))
    good("exif_rotated.jpg", exif_rotated_jpeg(), (64, 96))
    good("one_pixel.png", encoded(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), (1, 1))
    good("nested/deeper/anim.gif", encoded(photo(seed=4).convert("P"), "GIF"), (96, 64))
    good("nested/pic.webp", encoded(photo(seed=5), "WEBP"), (96, 64))
    good("nested/pic.bmp", encoded(photo(seed=6), "BMP"), (96, 64))
    good("nested/pic.tiff", encoded(photo(seed=7), "TIFF"), (96, 64))
    good(NON_UTF8_NAME, encoded(photo(seed=8), "JPEG"), (96, 64))
    (root / "z copies").mkdir()
    (root / "z copies" / "copy of plain.jpg").write_bytes(jpeg)  # sorts after plain.jpg: the duplicate
    corpus.duplicates.append("z copies/copy of plain.jpg")

    bad("zero.jpg", b"", "empty file")
    bad("truncated.jpg", encoded(photo(seed=9, width=200, height=150), "JPEG")[:900], "truncated")
    bad("notes.jpg", b"these are notes, not a picture\n" * 20, "not a recognised image format")
    bad("bomb.png", encoded(Image.new("1", (10_000, 9_000)), "PNG"), "decompression bomb")
    os.symlink(root / "does-not-exist.jpg", root / "dangling.jpg")
    corpus.bad["dangling.jpg"] = "dangling symlink"
    os.mkfifo(root / "pipe.jpg")
    corpus.bad["pipe.jpg"] = "not a regular file"
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "elsewhere.jpg").write_bytes(encoded(photo(seed=10), "JPEG"))
    os.symlink(outside / "elsewhere.jpg", root / "escape.jpg")
    corpus.bad["escape.jpg"] = "outside the folder"

    os.symlink("..", sub / "loop")  # a symlink loop: must neither hang nor duplicate
    (root / "readme.txt").write_text("not an image name: ignored")
    (root / ".hidden.jpg").write_bytes(b"hidden files are skipped")
    return corpus


def palette_with_transparency() -> Image.Image:
    image = Image.new("P", (40, 30), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 20, 30))
    image.info["transparency"] = 0
    return image


def exif_rotated_jpeg() -> bytes:
    """A 96x64 JPEG whose EXIF orientation (6) says: show it rotated, as 64x96."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(photo(seed=11), "JPEG", exif=exif.tobytes())
