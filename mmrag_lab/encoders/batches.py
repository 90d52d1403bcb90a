"""What every encoder implementation does around its model: a progress bar per call, and checked texts."""

from __future__ import annotations

from collections.abc import Sequence

from tqdm.auto import tqdm

from mmrag_lab import argtypes
from mmrag_lab.errors import ConfigError


def progress(total: int, size: int, what: str) -> tqdm:
    """A bar counting items (so it shows items/s), shown only when there is more than one batch."""
    return tqdm(
        total=total,
        desc=f"encode {what}",
        unit=what[:-1] if what.endswith("s") else what,
        disable=total <= size,
    )


def check_texts(texts: Sequence[str], pixels: int | None = None) -> list[str]:
    """Texts as a list of strings, one per image when ``pixels`` is given."""
    texts = list(texts)
    for number, text in enumerate(texts, start=1):  # a lone surrogate would be a TypeError in the tokenizer
        argtypes.text(f"Text {number} of {len(texts)} (an instruction or a text query)", text, optional=False)
    if pixels is not None and len(texts) != pixels:
        raise ConfigError(f"Got {pixels} images but {len(texts)} instructions; pass one per image.")
    return texts
