"""What the apps do with a FileUpload value: the size limit, decoding, and the hash that leaves it out of its hits.

ipywidgets 8 (JupyterLab, Voilà, and Colab once its custom widget manager is on) gives a tuple of dicts with
``name``, ``type``, ``size`` and ``content`` (a memoryview); ipywidgets 7 gave ``{name: {"metadata": ...,
"content": bytes}}``. Both are read here, so the apps never look at the format.
"""

from __future__ import annotations

import hashlib
from typing import Any

from PIL import Image

from mmrag_lab.errors import ImageLoadError
from mmrag_lab.images import CONTENT_HASH, decode_image

MB = 1024 * 1024


def first_upload(value: Any) -> tuple[str, bytes] | None:
    """``(file name, bytes)`` of the first uploaded file in a FileUpload ``value``; None when it is empty."""
    if not value:
        return None
    if isinstance(value, dict):  # ipywidgets 7
        name, item = next(iter(value.items()))
        return name, bytes(item["content"])
    item = value[0]
    return item.get("name") or "upload", bytes(item["content"])


def read_upload(value: Any, max_mb: float) -> tuple[Image.Image, str] | None:
    """The uploaded query picture and its name, or None when nothing is uploaded.

    The picture carries its content hash (``info[CONTENT_HASH]``), so that a search leaves the uploaded file
    out of its own hits when the collection holds it.

    Raises:
        ImageLoadError: The file is larger than ``max_mb`` (``MMRAG_APP_MAX_UPLOAD_MB``) or is not an image.
    """
    found = first_upload(value)
    if found is None:
        return None
    name, data = found
    if len(data) > max_mb * MB:
        raise ImageLoadError(
            name,
            f"is {len(data) / MB:.1f} MB, more than this app accepts ({max_mb:g} MB, MMRAG_APP_MAX_UPLOAD_MB); "
            "upload a smaller image.",
        )
    picture = decode_image(data, name=name)
    picture.info[CONTENT_HASH] = hashlib.sha256(data).hexdigest()
    return picture, name
