"""FileUpload values of ipywidgets 8 (JupyterLab, Voilà, Colab) and 7, the size limit, and broken files."""

from __future__ import annotations

import datetime
import hashlib
import io

import pytest
from PIL import Image

from mmrag_lab.errors import ImageLoadError
from mmrag_lab.images import CONTENT_HASH
from mmrag_lab.workbench.widgets.upload import first_upload, read_upload


def _jpeg(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def _v8(data: bytes, name: str = "q.jpg") -> tuple[dict, ...]:
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return ({"name": name, "type": "image/jpeg", "size": len(data), "content": memoryview(data),
             "last_modified": when},)  # fmt: skip


def test_both_value_formats_give_the_picture_its_name_and_its_hash():
    data = _jpeg()
    v7 = {"q.jpg": {"metadata": {"name": "q.jpg", "type": "image/jpeg", "size": len(data)}, "content": data}}
    for value in (_v8(data), v7):
        picture, name = read_upload(value, max_mb=1)
        assert (name, picture.size) == ("q.jpg", (64, 48))
        assert picture.info[CONTENT_HASH] == hashlib.sha256(data).hexdigest()
    assert read_upload((), 1) is None and read_upload({}, 1) is None and first_upload(None) is None


def test_a_file_over_the_limit_is_refused_before_it_is_decoded():
    data = _jpeg((400, 400))
    with pytest.raises(
        ImageLoadError, match=r"more than this app accepts \(0.001 MB, MMRAG_APP_MAX_UPLOAD_MB\)"
    ):
        read_upload(_v8(data), max_mb=0.001)
    assert read_upload(_v8(data), max_mb=len(data) / 1024 / 1024)[1] == "q.jpg"  # exactly the limit is fine


def test_a_file_that_is_not_an_image_names_itself():
    with pytest.raises(ImageLoadError, match="notes.txt"):
        read_upload(_v8(b"just some text", name="notes.txt"), max_mb=1)
    with pytest.raises(ImageLoadError, match="cut.jpg"):
        read_upload(_v8(_jpeg()[:200], name="cut.jpg"), max_mb=1)
