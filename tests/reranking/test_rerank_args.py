"""rerank's and rerank_many's arguments: a wrong type or range is one ConfigError naming the argument."""

from __future__ import annotations

import pytest

from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError
from mmrag_lab.reranking.panorama import PanoramaOptions
from mmrag_lab.reranking.rerank_args import check_many, check_rerank

GOOD = {
    "results": ["/a.jpg", "/b.jpg"], "image": "/q.jpg", "instruction": "make it blue", "model": None,
    "base_url": None, "include_metadata": True, "strict": False, "use_cache": True, "exclude_query": True,
    "config": None, "cache_dir": None, "timeout": None, "max_retries": None, "panorama": None,
}  # fmt: skip
LAYOUT = {"grid", "tile", "max_bytes"}  # the fields of PanoramaOptions


def given(name, value):
    """GOOD with one argument changed; a field of the panorama's options changes the options given."""
    if name in LAYOUT:
        return {**GOOD, "panorama": PanoramaOptions(**{name: value})}
    return {**GOOD, name: value}


def test_good_arguments_pass_and_return_the_query_image():
    assert check_rerank(GOOD) == ("/q.jpg", PanoramaOptions())
    assert check_rerank({**GOOD, "image": b"/q.jpg"})[0] == "/q.jpg"  # a path as bytes becomes a str
    content = b"\x89PNG\r\n\x1a\n\x00\x00"
    assert check_rerank({**GOOD, "image": content})[0] is content  # a file's content stays as it is
    config = Config.load(env={}, encoder="tiny")
    layout = PanoramaOptions(grid=[2, "5"], tile=300.0)
    image, checked = check_rerank(
        {**GOOD, "config": config, "timeout": 5, "max_retries": 0, "panorama": layout}
    )
    assert image == "/q.jpg" and checked == PanoramaOptions(grid=(2, 5), tile=300)  # whole numbers


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("results", 5, "results must be SearchResults"),
        ("results", "a.jpg", "results must be SearchResults"),
        ("image", None, "image .the query picture. is required"),
        ("image", 3, "image must be an image"),
        ("instruction", None, "instruction must be a text"),
        ("strict", "no", "strict must be True or False"),
        ("config", {"encoder": "tiny"}, "config must be a Config"),
        ("cache_dir", "https://example.com/c", "is a URL"),
        ("timeout", -1, "timeout"),
        ("max_retries", 99, "max_retries"),
        ("grid", "3x3", r"grid must be \(rows, cols\)"),
        ("grid", (3, 0), r"grid \(rows, cols\)"),
        ("tile", 8, r"tile \(pixels\)"),
        ("max_bytes", 10, "max_bytes"),
        ("panorama", {"grid": (3, 3)}, "panorama must be"),
    ],
)
def test_each_wrong_argument_is_named(name, value, message):
    with pytest.raises(ConfigError, match=message):
        check_rerank(given(name, value))


def test_rerank_many_takes_a_list_of_triples_or_mappings():
    assert check_many([(["/a.jpg"], "/q.jpg", "blue"), {"results": [], "image": "/q.jpg"}], 4) == 4
    with pytest.raises(ConfigError, match="queries must be a list of .results, image, instruction. tuples"):
        check_many([(["/a.jpg"], "/q.jpg")], 1)
    with pytest.raises(ConfigError, match="queries must be a list"):
        check_many("q.jsonl", 1)
    with pytest.raises(ConfigError, match="concurrency"):
        check_many([], 0)
