"""Reading the images users really have: upright, RGB, bounded in size, with errors that name the file."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from mmrag_lab.errors import ImageLoadError

ImageSource = str | os.PathLike | Image.Image | bytes | Any  # Any: a numpy array (numpy is imported lazily)
CONTENT_HASH = "mmrag.content_hash"  # key in a PIL image's ``info``: the sha256 of the bytes it came from

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
# Pillow warns at 89 MP and refuses at 2x that; we refuse at the warning threshold.
MAX_PIXELS = 89_478_485


def load_image(
    source: ImageSource, max_pixels: int = MAX_PIXELS, draft: int | None = None, upright: bool = True
) -> Image.Image:
    """Open an image and return it as an upright 8-bit RGB picture.

    EXIF orientation is applied; palette and alpha images are composited on white; CMYK, 16-bit and
    grayscale images become RGB. The file is decoded completely, so truncated files fail here.

    Args:
        source: A file path, a PIL image, a numpy array ((H, W) or (H, W, 3|4) of uint8, as
            ``np.asarray(image)`` gives) or an image file's bytes (see :func:`is_content`; their sha256
            goes into ``info``).
        max_pixels: Images with more pixels are refused as possible decompression bombs.
        draft: If set, let the JPEG decoder downscale by a power of two while both sides stay at least
            this many pixels. Faster, but pixels differ slightly from a full decode.
        upright: False reads the picture as reference code that calls ``Image.open(p).convert("RGB")``
            does: no EXIF transpose, alpha dropped rather than composited.

    Raises:
        ImageLoadError: The file is missing, unreadable, not an image, truncated or too large.
    """
    if isinstance(source, Image.Image):
        return _to_rgb(_upright(source)) if upright else source.convert("RGB")
    if is_content(source):
        image = decode_image(bytes(source), max_pixels=max_pixels, draft=draft, upright=upright)
        image.info[CONTENT_HASH] = hashlib.sha256(source).hexdigest()  # it is the file of these bytes
        return image
    if hasattr(source, "__array_interface__"):
        return _to_rgb(array_image(source, max_pixels))
    path = Path(os.fsdecode(source))
    if path.exists() and not path.is_file() and not path.is_dir():
        raise ImageLoadError(path, "not a regular file (a pipe or a device); reading it could block forever")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageLoadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageLoadError(path, "is a directory, not an image") from None
    except OSError as exc:
        raise ImageLoadError(path, f"cannot read file ({exc.strerror or exc})") from None
    return decode_image(data, name=path, max_pixels=max_pixels, draft=draft, upright=upright)


def decode_image(
    data: bytes,
    name: object = "<bytes>",
    max_pixels: int = MAX_PIXELS,
    draft: int | None = None,
    upright: bool = True,
) -> Image.Image:
    """Decode encoded image bytes like :func:`load_image` does for a file."""
    if not data:
        raise ImageLoadError(name, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageLoadError(
                    name,
                    f"refused as a possible decompression bomb: {width}x{height} = {width * height:,} "
                    f"pixels exceeds the limit of {max_pixels:,}; downscale the file first",
                )
            if draft and image.format == "JPEG":
                image.draft("RGB", (draft, draft))
            image.load()
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(name, f"refused as a possible decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ImageLoadError(name, "not a recognised image format (is it really an image?)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(name, f"corrupt or truncated image ({exc})") from None
    return _to_rgb(_upright(image)) if upright else image.convert("RGB")


def is_content(source: Any) -> bool:
    """Whether ``source`` is an image file's content rather than a path: a ``bytearray`` or ``memoryview``,
    or ``bytes`` holding a NUL byte, which no path can and every encoded JPEG, PNG, GIF, WebP, BMP and TIFF
    header does (other ``bytes`` are a path, as ``os.fsencode`` gives for a non-UTF-8 file name)."""
    return isinstance(source, (bytearray, memoryview)) or (isinstance(source, bytes) and b"\x00" in source)


def array_image(array: Any, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A numpy array of uint8 (or bool), shaped (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), as a picture."""
    import numpy as np

    data = np.asarray(array)
    shape, name = tuple(data.shape), f"<numpy array {data.dtype} {tuple(data.shape)}>"
    if data.ndim == 3 and shape[2] == 1:
        data = data[:, :, 0]
    if data.dtype == np.bool_:
        data = data.astype(np.uint8) * 255
    if data.dtype != np.uint8 or not (data.ndim == 2 or (data.ndim == 3 and data.shape[2] in (3, 4))):
        raise ImageLoadError(
            name, "an array image must be uint8 (0-255) shaped (H, W), (H, W, 3) or (H, W, 4); convert it, "
            "e.g. (array * 255).clip(0, 255).astype('uint8') for floats from 0 to 1",
        )  # fmt: skip
    if 0 in shape[:2] or shape[0] * shape[1] > max_pixels:
        raise ImageLoadError(name, f"has {shape[0] * shape[1]:,} pixels; give 1 to {max_pixels:,}")
    return Image.fromarray(np.ascontiguousarray(data))


def image_size(source: ImageSource | bytes) -> tuple[int, int]:
    """Width and height of the upright image, from the header only when given a path or the file's bytes."""
    if isinstance(source, Image.Image):
        return source.size
    try:
        opened = io.BytesIO(source) if isinstance(source, bytes) else os.fsdecode(source)
        with Image.open(opened) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(source, f"cannot read image header ({exc})") from None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not cost the picture
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA") or (mode in ("L", "RGB") and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit grayscale: scale to 8 bits instead of clipping everything to white.
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max(initial=0) > 255 else 255.0
        array = np.clip(array / top * 255.0 + 0.5, 0, 255).astype("uint8")
        return Image.fromarray(array, mode="L").convert("RGB")
    if mode == "F":
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min(initial=0)), float(array.max(initial=1))
        scaled = (array - low) / ((high - low) or 1.0) * 255.0
        return Image.fromarray(scaled.astype("uint8"), mode="L").convert("RGB")
    return image.convert("RGB")


def file_identity(source: ImageSource | None) -> tuple[str, str] | None:
    """The sha256 of an image file's bytes and its real path; None when ``source`` is not a file.

    Given the file's bytes, their sha256 (and no path).
    A PIL image opened from a file counts as that file (``Image.filename``); one decoded from bytes counts
    when its ``info`` carries their hash under :data:`CONTENT_HASH` (the app's uploads do).
    """
    if isinstance(source, Image.Image) and source.info.get(CONTENT_HASH):
        return str(source.info[CONTENT_HASH]), ""
    if is_content(source):
        return hashlib.sha256(source).hexdigest(), ""
    path = source if isinstance(source, (str, os.PathLike)) else getattr(source, "filename", None)
    if not path or not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:  # unreadable here: loading it will say why
        return None
    return digest.hexdigest(), os.path.realpath(path)


def is_same_file(item: Any, identity: tuple[str, str] | None) -> bool:
    """True when a stored row or hit (a mapping or an object) is the file of ``identity``."""
    if identity is None:
        return False
    if isinstance(item, (str, os.PathLike)):
        return os.path.realpath(item) == identity[1] or (file_identity(item) or ("",))[0] == identity[0]
    get = item.get if isinstance(item, dict) else lambda name: getattr(item, name, None)
    return get("content_hash") == identity[0] or get("path") == identity[1]
