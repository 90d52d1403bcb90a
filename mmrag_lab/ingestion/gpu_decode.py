"""Batched JPEG decoding (nvJPEG through torchvision) and EVA-CLIP preprocessing on the GPU, pixel-exact.

Reference: the encoder's Preprocessing (PIL decode, exif_transpose when it asks, RGB), Resize(S, BICUBIC) on
PIL = ``Image.resize((w', h'), BICUBIC)`` (skipped at equal size), CenterCrop(S) at ``int(round(d / 2.0))``.
``parse_jpeg`` sends what the GPU decoder may not reproduce to the CPU path (``NeedsCpu`` says why); the rest
is decoded in one ``torchvision.io.decode_jpeg`` call, turned upright (nvJPEG ignores EXIF) and resized like
Pillow's Resample.c (8 bpc): bicubic windows widened by the downscale factor, 22-bit fixed point, one pass
per axis, rounded and clipped to uint8, as exact float64 matmuls. Only nvJPEG's own rounding can differ.
"""

from __future__ import annotations

import math
import re
import struct
from collections import namedtuple
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import PIL
import torch
from torchvision.io import ImageReadMode, decode_jpeg

from mmrag_lab.encoders.preprocessing import Preprocessing
from mmrag_lab.images import MAX_PIXELS  # the CPU path refuses larger images

EVA_224 = Preprocessing(224)  # Visualized BGE's preprocessing, the default of the functions below
PRECISION_BITS = 32 - 8 - 2  # Resample.c
MAX_BATCH_PIXELS = 48_000_000  # input pixels per resize call (float64: 24 bytes each for RGB)
PILLOW_MAJOR = int(PIL.__version__.split(".")[0])  # the pass order changed in Pillow 13
_SAMPLING = {((2, 2), (1, 1), (1, 1)): "4:2:0", ((2, 1), (1, 1), (1, 1)): "4:2:2", ((1, 1),) * 3: "4:4:4"}


class NeedsCpu(Exception):
    """This file must take the CPU path; the message says why."""


# sampling: "grey", "4:4:4", "4:2:2" or "4:2:0"; orientation: as exif_transpose reads it (EXIF IFD0, else XMP)
JpegHeader = namedtuple("JpegHeader", "width height sampling orientation")
# pixels: uint8 (len(ok), 3, S, S) of inputs ok; errors/route/sizes: index -> CPU path's error / "gpu" or
# "cpu: why" / upright (width, height) of each decoded input (those on the CPU path: None)
Prepared = namedtuple("Prepared", "pixels ok errors route sizes")


def parse_jpeg(data: bytes) -> JpegHeader:
    """Walk the markers up to the first SOS; raise NeedsCpu for anything the GPU path can't reproduce."""
    if data[:2] != b"\xff\xd8":
        raise NeedsCpu("not a JPEG")
    pos, exif, xmp, adobe, sof = 2, b"", None, None, None
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise NeedsCpu("truncated header or junk between markers")
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        seg = data[pos + 4 : pos + 2 + length]
        if 0xD0 <= marker <= 0xD9 or marker in (0x01, 0xFF) or length < 2 or len(seg) != length - 2:
            raise NeedsCpu(f"truncated header or stray marker FF{marker:02X}")
        if marker == 0xDA:
            break
        if marker == 0xE1 and seg.startswith(b"Exif\0\0"):  # Pillow concatenates Exif segments
            exif += seg[6:] if exif else seg
        elif marker == 0xE1 and seg.startswith(b"http://ns.adobe.com/xap/1.0/\0"):  # Pillow keeps the last
            xmp = seg.split(b"\0", 1)[1]
        elif marker == 0xEE and seg[:5] == b"Adobe" and len(seg) >= 12:
            adobe = seg[11]
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if sof is not None:
                raise NeedsCpu("more than one frame header")
            sof = marker, seg
        pos += 2 + length
    marker, seg = sof or (0, b"\0" * 6)
    if len(seg) < 6 or len(seg) < 6 + 3 * seg[5]:
        raise NeedsCpu("truncated frame header")
    bits, height, width, ncomp = struct.unpack(">BHHB", seg[:6])
    ids = tuple(seg[6 + 3 * i] for i in range(ncomp))
    factors = tuple((seg[7 + 3 * i] >> 4, seg[7 + 3 * i] & 15) for i in range(ncomp))
    sampling = "grey" if ncomp == 1 else _SAMPLING.get(factors) if ncomp == 3 else None
    for refused, why in [
        (sof is None, "no frame header"),
        (marker not in (0xC0, 0xC2), f"SOF{marker - 0xC0}: not baseline or progressive Huffman coding"),
        (bits != 8, f"{bits}-bit samples"),
        (ncomp not in (1, 3), f"{ncomp} components" + " (CMYK/YCCK)" * (ncomp == 4)),
        (sampling is None, f"chroma sampling factors {factors}"),
        (ncomp == 3 and (adobe == 0 or ids == (82, 71, 66)), "3 components maybe coded as RGB, not YCbCr"),
        (width * height == 0, "height given by a DNL marker"),
        (width * height > MAX_PIXELS, "over the decompression-bomb limit"),
        (data.find(b"\xff\xd9", pos) < 0, "no end-of-image marker (truncated?)"),
    ]:
        if refused:
            raise NeedsCpu(why)
    orientation = _exif_orientation(exif)
    if orientation is None and xmp is not None and (m := re.search(rb'tiff:Orientation(="|>)([0-9])', xmp)):
        orientation = int(m[2])  # Pillow's getexif falls back to XMP when IFD0 has no Orientation
    return JpegHeader(width, height, sampling, orientation or 1)


def _exif_orientation(exif: bytes) -> int | None:
    """IFD0 Orientation as Pillow's Exif.load + get(0x0112) read it; None if absent."""
    tiff = re.sub(b"^(Exif\x00\x00){1,2}", b"", exif)
    if not tiff:
        return None
    order = {b"II*\0": "little", b"MM\0*": "big"}.get(tiff[:4])
    if order is None or len(tiff) < 8:
        raise NeedsCpu("EXIF block with an unusual header")
    ifd = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    if ifd + 6 + 12 * count > len(tiff):  # Pillow's IFD reader fails (and then turns nothing) on a short IFD
        raise NeedsCpu("truncated EXIF IFD0")
    value = None
    for entry in (tiff[at : at + 12] for at in range(ifd + 2, ifd + 2 + 12 * count, 12)):
        if int.from_bytes(entry[:2], order) == 0x0112:
            if entry[2:8] != (3).to_bytes(2, order) + (1).to_bytes(4, order):
                raise NeedsCpu("EXIF Orientation that is not one SHORT")
            value = int.from_bytes(entry[8:10], order)
    return value


def upright(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """(..., H, W) turned like ImageOps.exif_transpose for an EXIF orientation (others: unchanged)."""
    hw = (-2, -1)
    ops = {2: lambda x: x.flip(-1), 3: lambda x: x.flip(hw), 4: lambda x: x.flip(-2),
           5: lambda x: x.transpose(-2, -1), 6: lambda x: x.rot90(-1, hw),
           7: lambda x: x.transpose(-2, -1).flip(hw), 8: lambda x: x.rot90(1, hw)}  # fmt: skip
    return ops[orientation](image) if orientation in ops else image


@lru_cache(maxsize=256)
def pillow_bicubic_weights(in_size: int, out_size: int, start: int, count: int, device: str = "cpu"):
    """Resample.c's precompute_coeffs + normalize_coeffs_8bpc (BICUBIC, box = whole axis) for output pixels
    start..start+count: fixed-point weights (count, hi - lo) over input pixels lo..hi as float64, lo, hi."""
    scale = in_size / out_size  # (double)(in1 - in0) / outSize
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale  # BICUBIC support 2, widened when downscaling
    center = (np.arange(start, start + count) + 0.5) * scale
    xmin = np.maximum(np.trunc(center - support + 0.5), 0).astype(np.int64)  # C (int) truncates
    xmax = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size) - xmin
    taps = np.arange(int(math.ceil(support)) * 2 + 1)
    t = np.abs(((xmin[:, None] + taps).astype(np.float64) - center[:, None] + 0.5) * (1.0 / filterscale))
    w = np.where(t < 2.0, (((t - 5) * t + 8) * t - 4) * -0.5, 0.0)  # bicubic_filter, a = -0.5
    w = np.where(taps < xmax[:, None], np.where(t < 1.0, (1.5 * t - 2.5) * t * t + 1, w), 0.0)
    ww = np.zeros(count)
    for j in taps:  # the C loop sums left to right: keep its rounding
        ww = ww + w[:, j]
    w = np.where(ww[:, None] != 0.0, w / np.where(ww == 0.0, 1.0, ww)[:, None], w)
    one = float(1 << PRECISION_BITS)
    fixed = np.trunc(np.where(w < 0, -0.5 + w * one, 0.5 + w * one)).astype(np.int64)
    rows, cols = np.nonzero((taps < xmax[:, None]) & (fixed != 0))
    lo, hi = int((xmin[rows] + cols).min()), int((xmin[rows] + cols).max()) + 1
    dense = np.zeros((count, hi - lo), np.int64)
    dense[rows, xmin[rows] + cols - lo] = fixed[rows, cols]
    return torch.from_numpy(dense.astype(np.float64)).to(device), lo, hi


def _clip8(acc: torch.Tensor) -> torch.Tensor:
    """Resample.c's clip8((acc + 2^21) >> 22) on exact integer-valued float64."""
    return torch.floor((acc + (1 << (PRECISION_BITS - 1))) / (1 << PRECISION_BITS)).clamp_(0, 255)


def pillow_resize(
    images: torch.Tensor, out_w: int, out_h: int, crop: tuple[int, int, int, int] | None = None
):
    """uint8 (B, C, H, W) -> (B, C, ch, cw): ``Image.resize((out_w, out_h), BICUBIC)`` cropped to ``crop`` =
    (left, top, cw, ch), exactly. Output pixels depend only on their weight rows: only kept ones are made."""
    _, _, h, w = images.shape
    left, top, cw, ch = crop or (0, 0, out_w, out_h)
    dev = str(images.device)
    wv, r0, r1 = (
        pillow_bicubic_weights(h, out_h, top, ch, dev) if out_h != h else (None, top, top + ch)
    )  # need_vertical
    wh, c0, c1 = (
        pillow_bicubic_weights(w, out_w, left, cw, dev) if out_w != w else (None, left, left + cw)
    )  # need_horizontal
    passes = [(wh, lambda x: _clip8(torch.matmul(x, wh.T))), (wv, lambda x: _clip8(torch.matmul(wv, x)))]
    if PILLOW_MAJOR >= 13 and h - out_h > 0 and h - out_h > 2 * (w - out_w):  # python-pillow/Pillow#9549
        passes.reverse()  # vertical first (never matters when a pass is skipped)
    x = images[:, :, r0:r1, c0:c1].to(torch.float64)
    for weights, run in passes:
        x = x if weights is None else run(x)
    return x.to(torch.uint8)


def resize_crop(images: torch.Tensor, prep: Preprocessing = EVA_224) -> torch.Tensor:
    """uint8 upright (B, C, H, W) of one size -> uint8 (B, C, S, S): ``prep``'s resize and centre crop."""
    size = prep.size
    new_w, new_h, left, top = prep.geometry(images.shape[-1], images.shape[-2])
    return pillow_resize(images, new_w, new_h, (left, top, size, size))


def cpu_pixels(data: bytes, prep: Preprocessing = EVA_224) -> torch.Tensor:
    """The CPU path up to uint8 (what prepare's workers hand over)."""
    return prep.to_uint8(prep.load(data))


def prepare_batch(
    datas: Sequence[bytes],
    prep: Preprocessing = EVA_224,
    device="cuda",
    decode_device=None,
    fallback=cpu_pixels,
):
    """Decode and preprocess a batch; files that parse_jpeg or the decoder refuse take ``fallback``.

    Raises:
        ValueError: ``prep`` is not one this path reproduces (see :meth:`Preprocessing.gpu_reproducible`).
    """
    if not prep.gpu_reproducible():
        raise ValueError(f"GPU decoding cannot reproduce {prep}")
    size = prep.size
    device, route, headers, out, errors, sizes = torch.device(device), {}, {}, {}, {}, {}
    for i, data in enumerate(datas):
        try:
            headers[i] = parse_jpeg(data)
        except NeedsCpu as exc:
            route[i] = f"cpu: {exc}"
    idx, dev = list(headers), torch.device(decode_device or device)
    encoded = [torch.frombuffer(bytearray(datas[i]), dtype=torch.uint8) for i in idx]
    try:
        decoded = dict(zip(idx, decode_jpeg(encoded, mode=ImageReadMode.RGB, device=dev) if idx else []))
    except RuntimeError:  # one bad stream fails the whole call: decode one by one
        decoded = {}
        for i, stream in zip(idx, encoded):
            try:
                decoded[i] = decode_jpeg(stream, mode=ImageReadMode.RGB, device=dev)
            except RuntimeError as exc:
                route[i] = f"cpu: decoder error ({str(exc).splitlines()[0][:80]})"
    groups: dict[torch.Size, list[tuple[int, torch.Tensor]]] = {}
    for i, image in decoded.items():
        if tuple(image.shape) != (3, headers[i].height, headers[i].width):
            route[i] = f"cpu: decoder gave shape {tuple(image.shape)}"
            continue
        image = image.to(device)
        image = upright(image, headers[i].orientation) if prep.exif_transpose else image
        groups.setdefault(image.shape, []).append((i, image))
        route[i], sizes[i] = "gpu", (image.shape[-1], image.shape[-2])
    for shape, members in groups.items():  # one resize per input size, in chunks of bounded memory
        step = max(1, MAX_BATCH_PIXELS // (shape[1] * shape[2]))
        for start in range(0, len(members), step):
            chunk = members[start : start + step]
            out.update(zip([i for i, _ in chunk], resize_crop(torch.stack([x for _, x in chunk]), prep)))
    for i in [i for i in range(len(datas)) if route[i] != "gpu"]:
        try:
            out[i] = fallback(datas[i], prep).to(device)
        except Exception as exc:  # mmrag_lab's ImageLoadError (.reason) and anything a transform raises
            errors[i] = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
    ok = sorted(out)
    empty = torch.empty((0, 3, size, size), dtype=torch.uint8, device=device)
    return Prepared(torch.stack([out[i] for i in ok]) if ok else empty, ok, errors, route, sizes)
