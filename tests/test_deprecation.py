"""Renamed keywords keep working for one release: the old name gives the same result as the new one, with
a DeprecationWarning that names the new one; both at once is refused (``mmrag_lab/deprecation.py``)."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

import mmrag_lab
from mmrag_lab.deprecation import folded, renamed, renamed_key
from mmrag_lab.errors import ConfigError


@renamed(old="new")
def _echo(first, new=None, *, other=0):
    return first, new, other


def test_an_old_keyword_is_read_as_the_new_one_with_a_warning_naming_it():
    with pytest.warns(DeprecationWarning, match=r"_echo\(old=\.\.\.\) is deprecated .* use new= instead"):
        assert _echo(1, old=2, other=3) == (1, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name warns nothing
        assert _echo(1, new=2) == _echo(1, 2) == (1, 2, 0)
    assert _echo.__name__ == "_echo" and _echo.renamed_keywords == {"old": "new"}


@pytest.mark.parametrize("call", [lambda: _echo(1, old=2, new=3), lambda: _echo(1, 3, old=2)])
def test_the_old_and_the_new_name_together_are_refused(call):
    with pytest.raises(ConfigError, match="old= is the old name of new=; give new= only"):
        call()


def test_an_old_key_of_a_mapping_is_read_as_the_new_one():
    with pytest.warns(DeprecationWarning, match="the key 'a' is deprecated"):
        assert renamed_key("f(x)", {"a": 1, "c": 2}, "a", "b") == {"b": 1, "c": 2}
    assert renamed_key("f(x)", {"b": 1}, "a", "b") == {"b": 1}
    with pytest.raises(ConfigError, match="'a' is the old name of 'b'"):
        renamed_key("f(x)", {"a": 1, "b": 2}, "a", "b")


@pytest.fixture()
def photos(sample_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # no endpoint: the retrieval order, a real call
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    return sorted(sample_dir.rglob("*.jpg"))[:6]


def test_rerank_takes_query_image_for_one_more_release(photos):
    new = mmrag_lab.rerank(photos[1:], photos[0], "in red")
    with pytest.warns(DeprecationWarning, match=r"rerank\(query_image=\.\.\.\) .* use image= instead"):
        old = mmrag_lab.rerank(photos[1:], query_image=photos[0], instruction="in red")
    assert old.order == new.order and old.fallback_reason == new.fallback_reason
    with pytest.raises(ConfigError, match="query_image= is the old name of image="):
        mmrag_lab.rerank(photos[1:], photos[0], "x", query_image=photos[0])


def test_rerank_many_reads_the_old_query_image_key(photos):
    with pytest.warns(DeprecationWarning, match="rerank_many\\(queries\\): the key 'query_image'"):
        [old] = mmrag_lab.rerank_many([{"results": photos[1:], "query_image": photos[0], "instruction": "x"}])
    [new] = mmrag_lab.rerank_many([{"results": photos[1:], "image": photos[0], "instruction": "x"}])
    assert old.order == new.order and "query_image" not in (old.fallback_reason or "")


@dataclasses.dataclass(frozen=True)
class _Knobs:
    size: int = 1
    mode: str = "a"


@folded("knobs", _Knobs)
def _tune(first, *, knobs=None):
    return first, knobs


def test_keywords_grouped_into_an_options_dataclass_are_folded_into_it_with_a_warning():
    with pytest.warns(
        DeprecationWarning, match=r"_tune\(size=\.\.\.\) is deprecated .* use knobs=_Knobs\(size"
    ):
        assert _tune(1, size=5) == (1, _Knobs(size=5))
    with pytest.warns(DeprecationWarning):  # a field given the old way lands on the options given
        assert _tune(1, knobs=_Knobs(mode="b"), size=5) == (1, _Knobs(size=5, mode="b"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _tune(1, knobs=_Knobs(size=2)) == (1, _Knobs(size=2)) and _tune(1) == (1, None)
    with (
        pytest.raises(ConfigError, match="knobs must be a _Knobs, got dict"),
        pytest.warns(DeprecationWarning),
    ):
        _tune(1, knobs={"size": 2}, mode="b")


def test_rerank_takes_its_panorama_keywords_for_one_more_release(photos):
    new = mmrag_lab.rerank(photos[1:], photos[0], "in red", panorama=mmrag_lab.PanoramaOptions(grid=(1, 2)))
    with pytest.warns(DeprecationWarning, match=r"rerank\(grid=\.\.\.\) .* use panorama=PanoramaOptions"):
        old = mmrag_lab.rerank(photos[1:], photos[0], "in red", grid=(1, 2))
    assert old.panorama.layout.grid == new.panorama.layout.grid == (1, 2) and old.order == new.order


def test_ingest_takes_its_decode_keywords_for_one_more_release(sample_dir, tiny_encoder, tmp_path):
    assert mmrag_lab.ingest.folded_keywords == ("options", mmrag_lab.IngestOptions)
    config = mmrag_lab.Config.load(env={}, milvus_uri=str(tmp_path / "old.db"), collection="old")
    folder = sample_dir / "dress"
    with pytest.warns(
        DeprecationWarning, match=r"ingest\(fast_decode=\.\.\., workers=\.\.\.\) is deprecated"
    ):
        old = mmrag_lab.ingest(folder, config=config, encoder=tiny_encoder, progress=False, workers=0,
                               fast_decode=True)  # fmt: skip
    new = mmrag_lab.ingest(folder, config=config.with_overrides(collection="new"), encoder=tiny_encoder,
                           progress=False, options=mmrag_lab.IngestOptions(workers=0, fast_decode=True))  # fmt: skip
    assert old.added == new.added == old.seen > 0 and not old.failed and not new.failed
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match="workers .--workers. must be"):
        mmrag_lab.ingest(folder, config=config, encoder=tiny_encoder, workers=-1,
                         options=mmrag_lab.IngestOptions())  # fmt: skip
