"""``mmrag info`` on real Milvus Lite collections, one ingested with ``--text-fields`` and one without: the
text and the JSON say whether keyword search is there and which sidecar columns feed it."""

from __future__ import annotations

import json
import shutil

import pytest

from mmrag_lab.cli import main


@pytest.fixture(scope="module")
def lite(tmp_path_factory, sample_dir):
    """One Lite file with two collections of the same three photos: ``words`` has text fields, ``plain`` not."""
    root = tmp_path_factory.mktemp("info")
    images = root / "images"
    images.mkdir()
    for photo in sorted(sample_dir.rglob("*.jpg"))[:3]:
        shutil.copy(photo, images / photo.name)
    sidecar = root / "meta.csv"
    rows = [f"{p.name},photo {p.stem},a caption of {p.stem}" for p in sorted(images.iterdir())]
    sidecar.write_text("file,title,caption\n" + "\n".join(rows) + "\n", encoding="utf-8")
    uri = str(root / "lite.db")
    common = [
        "--uri",
        uri,
        "--encoder",
        "tiny",
        "--weights",
        "untrained",
        "--device",
        "cpu",
        "--workers",
        "0",
    ]
    words = ["--collection", "words", "--metadata", str(sidecar), "--text-fields", "caption,title"]
    assert main(["ingest", str(images), *common, *words]) == 0
    assert main(["ingest", str(images), *common, "--collection", "plain", "--metadata", str(sidecar)]) == 0
    return uri


def _info(lite, capsys, collection: str, *extra: str) -> str:
    capsys.readouterr()
    assert main(["info", "--uri", lite, "--collection", collection, *extra]) == 0
    return capsys.readouterr().out


def test_text_fields_are_shown_in_the_order_they_were_joined(lite, capsys):
    text = _info(lite, capsys, "words")
    assert "keyword search: caption, title (BM25)" in text
    assert "      metadata: caption (text), title (text)" in text  # the labels stay aligned


def test_a_collection_without_text_fields_says_how_to_add_them(lite, capsys):
    text = _info(lite, capsys, "plain")
    assert "keyword search: none (add it: mmrag migrate --text-fields title,caption" in text
    assert "(BM25)" not in text


def test_json_lists_the_text_fields(lite, capsys):
    assert json.loads(_info(lite, capsys, "words", "--json"))["text_fields"] == ["caption", "title"]
    assert json.loads(_info(lite, capsys, "plain", "--json"))["text_fields"] == []
