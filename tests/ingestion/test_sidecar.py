"""Metadata sidecars: CSV or JSON Lines, keyed by relative path or bare file name."""

from __future__ import annotations

import pytest

from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.sidecar import load_sidecar
from mmrag_lab.workbench.runtime.sample import sample_dir, sample_metadata


def test_csv_keys_and_lookup(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("filename,title,category,empty\nshoes/a.jpg,Red shoe,shoes,\nb.jpg,Hat,hat,\n")
    sidecar = load_sidecar(path)
    assert sidecar.keys == ("category", "title")
    assert sidecar.lookup("shoes/a.jpg") == {"title": "Red shoe", "category": "shoes"}
    assert sidecar.lookup("any/folder/b.jpg") == {"title": "Hat", "category": "hat"}
    assert sidecar.lookup("c.jpg") == {}


def test_relative_path_wins_over_bare_name(tmp_path):
    path = tmp_path / "meta.jsonl"
    path.write_text('{"file": "x.jpg", "title": "bare"}\n\n{"file": "./sub/x.jpg", "title": "exact"}\n')
    sidecar = load_sidecar(path)
    assert sidecar.lookup("sub/x.jpg") == {"title": "exact"}
    assert sidecar.lookup("other/x.jpg") == {"title": "bare"}


def test_errors_say_what_to_fix(tmp_path):
    no_key = tmp_path / "no_key.csv"
    no_key.write_text("title,category\nA,b\n")
    with pytest.raises(ConfigError, match="no file-name column; name one of file"):
        load_sidecar(no_key)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"file": "a.jpg"}\n{not json}\n')
    sidecar = load_sidecar(broken)  # a broken line is left out and named; the others are used
    assert sidecar.problems == [{"line": 2, "reason": "not valid JSON (Expecting property name enclosed in "
                                 "double quotes, column 2)"}] and list(sidecar.entries) == ["a.jpg"]  # fmt: skip
    with pytest.raises(ConfigError, match="does not exist"):
        load_sidecar(tmp_path / "absent.csv")


def test_bundled_sample_metadata_covers_every_sample_image():
    sidecar = load_sidecar(sample_metadata())
    images = sorted(sample_dir().glob("*/*.jpg"))
    assert len(images) == 40 and len(sidecar.entries) == 40
    for image in images:
        meta = sidecar.lookup(f"{image.parent.name}/{image.name}")
        assert meta["category"] == image.parent.name and meta["title"]
    assert sum(p.stat().st_size for p in images) < 2_000_000
    assert (sample_dir().parent / "LICENSE").read_text().startswith("Creative Commons")


def test_csv_columns_are_typed_by_what_every_cell_looks_like(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text(
        "file,year,price,in_stock,code,mixed\n"
        "a.jpg,2020,12,true,007,1\n"
        "b.jpg,2021,12.5,FALSE,8,one\n"
        "c.jpg,,,,,\n"
    )
    sidecar = load_sidecar(path)
    assert sidecar.types == {
        "year": "int",
        "price": "float",
        "in_stock": "bool",
        "code": "text",
        "mixed": "text",
    }
    assert sidecar.lookup("a.jpg") == {
        "year": 2020,
        "price": 12.0,
        "in_stock": True,
        "code": "007",
        "mixed": "1",
    }
    assert sidecar.lookup("b.jpg") == {
        "year": 2021,
        "price": 12.5,
        "in_stock": False,
        "code": "8",
        "mixed": "one",
    }
    assert sidecar.lookup("c.jpg") == {}


def test_jsonl_values_keep_their_json_types_and_lists_are_typed(tmp_path):
    path = tmp_path / "meta.jsonl"
    path.write_text(
        '{"file": "a.jpg", "year": 2020, "score": 1, "tags": ["red", "cotton"], "code": "7", "sizes": [38, 40]}\n'
        '{"file": "b.jpg", "year": 2021, "score": 0.5, "tags": [], "code": 8, "sizes": [41.5]}\n'
    )
    sidecar = load_sidecar(path)
    assert sidecar.types == {"year": "int", "score": "float", "tags": "list[text]", "code": "text",
                             "sizes": "list[float]"}  # fmt: skip
    assert sidecar.lookup("a.jpg") == {"year": 2020, "score": 1.0, "tags": ["red", "cotton"], "code": "7",
                                       "sizes": [38.0, 40.0]}  # fmt: skip
    assert sidecar.lookup("b.jpg")["code"] == "8"
