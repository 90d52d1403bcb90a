"""The public API's argument types: each wrong type is one ConfigError naming the argument and what it takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmrag_lab import argtypes
from mmrag_lab.errors import ConfigError


def test_given_shows_the_type_and_a_short_repr():
    assert argtypes.given(5) == "int 5"
    long = argtypes.given("x" * 100)
    assert long.startswith("str 'xxx") and long.endswith("...") and len(long) == len("str ") + 60


def test_text():
    assert argtypes.text("q", "red dress") == "red dress" and argtypes.text("q", None) is None
    with pytest.raises(ConfigError, match=r"instruction must be a text \(str\) or None, got int 5"):
        argtypes.text("instruction", 5)
    with pytest.raises(ConfigError, match=r"llm_model must be a text \(str\), got NoneType"):
        argtypes.text("llm_model", None, optional=False)
    with pytest.raises(ConfigError, match="lone surrogate '\\\\udcff' at character 3"):
        argtypes.text("q", "red\udcff")


def test_local_path():
    assert argtypes.local_path("folder", b"/data/x") == Path("/data/x")
    assert argtypes.local_path("folder", Path("rel")) == Path("rel")
    assert argtypes.local_path("out", None, optional=True) is None
    for value, message in [
        ("  ", "folder is empty"),
        ("s3://bucket/key", "reads local files only"),
        ("a\x00b", "NUL character"),
        (3.5, "must be a path"),
    ]:
        with pytest.raises(ConfigError, match=message):
            argtypes.local_path("folder", value)
    with pytest.raises(ConfigError, match="writes local files only"):
        argtypes.local_path("out", "https://example.com/run", output=True)


def test_image_takes_every_kind_of_picture():
    picture, array = Image.new("RGB", (2, 2)), np.zeros((2, 2, 3), np.uint8)
    for value in (picture, array, b"\x89PNG\x00data", bytearray(b"x"), "/a.jpg", Path("a.jpg"), None):
        assert argtypes.image("image", value) is value
    with pytest.raises(ConfigError, match="image must be an image: a file path, a PIL image"):
        argtypes.image("image", 3)
    with pytest.raises(ConfigError, match="is a URL"):
        argtypes.image("image", "http://example.com/a.jpg")


def test_mapping_flag_and_instance():
    assert argtypes.mapping("where", {"a": 1}, "{'a': 1}") == {"a": 1}
    with pytest.raises(ConfigError, match="where must be a dict with text keys such as"):
        argtypes.mapping("where", "category=dress", "{'category': 'dress'}")
    with pytest.raises(ConfigError, match="with text keys"):
        argtypes.mapping("where", {1: "a"}, "{}")
    assert argtypes.flag("progress", False) is False and argtypes.flag("x", None, optional=True) is None
    with pytest.raises(ConfigError, match="progress must be True or False, got str 'no'"):
        argtypes.flag("progress", "no")
    assert argtypes.instance("config", None, dict, "from Config.load()") is None
    with pytest.raises(ConfigError, match=r"store must be a Path \(open one\), got int 1"):
        argtypes.instance("store", 1, Path, "open one")
    with pytest.raises(ConfigError, match=r"must be an Image \(x\)"):
        argtypes.instance("img", 1, type("Image", (), {}), "x")
