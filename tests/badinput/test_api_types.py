"""Every public function of ``mmrag_lab`` given an argument of the wrong type: one ConfigError naming the
argument and what it takes (never an AttributeError, a TypeError or a ValueError from inside), before any
model loads, and the collection unchanged. A query image given as a numpy array or as the file's bytes is
taken as a PIL image is; a text with a lone surrogate is refused by name; empty paths and URLs are refused,
in the API and by the real CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from cli_inputs import NEVER_LOADED, TRACEBACK, assert_refused, snapshot
from PIL import Image

import mmrag_lab
from mmrag_lab import Store
from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError, ImageLoadError

URL = "https://example.com/photos/a.jpg"
OPTION_FIELDS = {field.name for field in dataclasses.fields(mmrag_lab.IngestOptions)}


SEARCH = [
    ({"image": "Q", "instruction": 5}, "instruction must be a text (str) or None, got int 5"),
    ({"text": 5}, "text must be a text (str) or None, got int 5"),
    ({"text": ["a dress"]}, "text must be a text (str) or None, got list"),
    ({"text": "red \ud800 dress"}, "text holds a lone surrogate '\\ud800' at character 4"),
    ({"image": "Q", "instruction": "\udcff"}, "instruction holds a lone surrogate"),
    ({"text": "a", "where": "category=dress"}, "where must be a dict with text keys such as"),
    ({"text": "a", "where": ["category=dress"]}, "where must be a dict"),
    ({"text": "a", "where": 5}, "where must be a dict"),
    ({"text": "a", "where": {5: "x"}}, "where must be a dict with text keys"),
    ({"text": "a", "filter": 5}, "filter must be a text"),
    ({"text": "a", "config": "lite.db"}, "config must be a Config"),
    ({"text": "a", "encoder": "tiny"}, "encoder must be an Encoder (from mmrag_lab.load_encoder"),
    ({"text": "a", "store": "lite.db"}, "store must be a Store"),
    ({"image": "Q", "exclude_query": "no"}, "exclude_query must be True or False, got str 'no'"),
    ({"image": 5}, "image must be an image: a file path, a PIL image, a numpy array"),
    ({"image": ["Q"]}, "image must be an image"),
    ({"image": ""}, "image is empty; give a path"),
    ({"image": URL}, f"image {URL!r} is a URL; mmrag_lab reads local files only. Download it first"),
]


@pytest.mark.parametrize("given,message", SEARCH, ids=[m[:40] for _, m in SEARCH])
def test_search_names_each_argument_of_the_wrong_type(lite, no_model, given, message):
    config, _, query, before = lite
    arguments = {"config": config, **{k: (query if v == "Q" else v) for k, v in given.items()}}
    with pytest.raises(ConfigError) as caught:
        mmrag_lab.search(**arguments)
    assert message in str(caught.value)
    assert snapshot(config.milvus_uri) == before


def test_an_array_and_the_files_bytes_are_queries_as_the_picture_is(lite, tiny_encoder):
    config, _, query, _ = lite
    picture = Image.open(query).convert("RGB")  # converted: no file name, so no identity to leave out

    def ranked(image) -> list[str]:
        return [hit.path for hit in mmrag_lab.search(image, k=4, config=config, encoder=tiny_encoder).hits]

    by_path = ranked(query)
    assert ranked(query.read_bytes()) == ranked(bytearray(query.read_bytes())) == by_path
    assert str(query) not in by_path  # the query's own bytes are left out of its hits, however it was given
    assert ranked(np.asarray(picture)) == ranked(picture)
    assert ranked(picture)[0] == str(query)  # an array or a picture has no identity: the query is hit #1
    gray = np.asarray(picture.convert("L"))
    assert len(mmrag_lab.search(gray, k=2, config=config, encoder=tiny_encoder).hits) == 2


@pytest.mark.parametrize(
    "array", [np.zeros((8, 8), np.float64), np.zeros((8, 8, 2), np.uint8), np.zeros((0, 4, 3), np.uint8)]
)
def test_an_array_that_is_no_picture_is_named(lite, no_model, array):
    config, _, _, _ = lite
    with pytest.raises(ImageLoadError, match="numpy array"):
        mmrag_lab.search(array, config=config)


def test_the_encoders_refuse_a_lone_surrogate_by_name(tiny_encoder):
    with pytest.raises(
        ConfigError, match=r"Text 2 of 2 \(an instruction or a text query\) holds a lone surrogate"
    ):
        tiny_encoder.encode_texts(["a dress", "a \udcff dress"])
    with pytest.raises(ConfigError, match="Text 1 of 1 .* must be a text"):
        tiny_encoder.encode_texts([5])


INGEST = [
    ({"images_dir": 5}, "images_dir (IMAGES_DIR) must be a path (str or pathlib.Path), got int 5"),
    ({"images_dir": None}, "images_dir (IMAGES_DIR) must be a path"),
    ({"images_dir": ["IMAGES"]}, "images_dir (IMAGES_DIR) must be a path"),
    ({"images_dir": ""}, "images_dir (IMAGES_DIR) is empty"),
    ({"images_dir": "s3://bucket/photos"}, "is a URL; mmrag_lab reads local files only"),
    ({"metadata": 5}, "metadata (--metadata) must be a path"),
    ({"report_path": ""}, "report_path (--report) is empty"),
    ({"config": "lite.db"}, "config must be a Config"),
    ({"encoder": "tiny"}, "encoder must be an Encoder"),
    ({"prune": "yes"}, "prune must be False, True or 'all'"),
    ({"progress": "no"}, "progress must be True or False"),
    ({"gpu_decode": "no"}, "gpu_decode must be True or False or None"),
    ({"compile": 1}, "compile must be True or False or None"),
]


@pytest.mark.parametrize("given,message", INGEST, ids=[m[:40] for _, m in INGEST])
def test_ingest_names_each_argument_of_the_wrong_type(lite, no_model, given, message):
    config, images, _, before = lite
    arguments = {"images_dir": images, "config": config, "progress": False, **given}
    if arguments["images_dir"] == ["IMAGES"]:
        arguments["images_dir"] = [images]
    options = {name: arguments.pop(name) for name in OPTION_FIELDS & arguments.keys()}
    with pytest.raises(ConfigError) as caught:
        if options:
            arguments["options"] = mmrag_lab.IngestOptions(**options)
        mmrag_lab.ingest(arguments.pop("images_dir"), **arguments)
    assert message in str(caught.value) and NEVER_LOADED not in str(caught.value)
    assert snapshot(config.milvus_uri) == before


SETTINGS = [
    ("weights", 5, "weights must be a path"),
    ("weights", "", "weights is empty"),
    ("text_model", 5, "text_model must be a path"),
    ("cache_dir", ["x"], "cache_dir must be a path"),
    ("llm_model", 5, "llm_model must be a text"),
    ("milvus_token", 5, "milvus_token must be a text"),
    ("milvus_uri", 5, "milvus_uri must be a text"),
    ("metric", "dot", "metric must be one of cosine, ip, l2"),
    ("index_type", 5, "index_type must be a text"),
]


@pytest.mark.parametrize("field,value,message", SETTINGS, ids=[f"{f}={v!r}" for f, v, _ in SETTINGS])
def test_config_and_load_encoder_name_each_setting_of_the_wrong_type(no_model, field, value, message):
    with pytest.raises(ConfigError, match=message):
        Config.load(env={}, **{field: value})
    with pytest.raises(ConfigError, match=message):
        Config().with_overrides(**{field: value})


def test_load_encoder_store_and_config_refuse_a_wrong_container(lite):
    config, _, _, _ = lite
    with pytest.raises(ConfigError, match="config must be a Config"):
        mmrag_lab.load_encoder("tiny", config="lite.db")
    with pytest.raises(ConfigError, match="weights must be a path"):
        mmrag_lab.load_encoder("tiny", weights=5)
    with pytest.raises(ConfigError, match="env must be a dict"):
        Config.load(env="MMRAG_DEVICE=cpu")
    with pytest.raises(ConfigError, match="config must be a Config"):
        Store.open(5)
    with pytest.raises(ConfigError, match="not a name Milvus accepts"):
        Store.open(config, collection=5)
    with pytest.raises(ConfigError, match="read_only must be True or False"):
        Store.open(config, read_only="yes")
    with Store.open(config.milvus_uri, collection="badinput") as store:  # a URI as str, as documented
        assert store.count() == 6


RERANK = [
    ({"results": 5}, "results must be SearchResults, or a list of hits or image paths; got int 5"),
    ({"results": "a.jpg"}, "results must be SearchResults"),
    ({"image": 5}, "image must be an image"),
    ({"image": None}, "image (the query picture) is required"),
    ({"image": URL}, "is a URL; mmrag_lab reads local files only"),
    ({"instruction": 5}, "instruction must be a text (str), got int 5"),
    ({"instruction": "\ud800"}, "instruction holds a lone surrogate"),
    ({"base_url": 5}, "base_url must be a text"),
    ({"cache_dir": 5}, "cache_dir must be a path"),
    ({"grid": "3x3"}, "grid must be (rows, cols)"),
    ({"panorama": mmrag_lab.PanoramaOptions(grid=(3, "x"))}, "grid (rows, cols) must be a whole number"),
    ({"panorama": "3x3"}, "panorama must be"),
    ({"tile": "big"}, "tile (pixels) must be a whole number from 32"),
    ({"max_bytes": 5}, "max_bytes must be a whole number from 10000"),
    ({"timeout": "soon"}, "timeout must be a number of seconds"),
    ({"strict": "no"}, "strict must be True or False"),
]


@pytest.mark.parametrize("given,message", RERANK, ids=[m[:40] for _, m in RERANK])
def test_rerank_names_each_argument_of_the_wrong_type_even_when_not_strict(lite, given, message):
    config, images, query, _ = lite
    arguments = {"results": sorted(images.glob("*.jpg")), "image": query, "instruction": "red", **given}
    with pytest.raises(ConfigError) as caught:
        mmrag_lab.rerank(**arguments, config=config)
    assert message in str(caught.value)


def test_rerank_takes_an_array_or_the_files_bytes_as_its_query(lite, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config, images, query, _ = lite
    candidates = sorted(images.glob("*.jpg"))
    for given in (np.asarray(Image.open(query).convert("RGB")), query.read_bytes()):
        result = mmrag_lab.rerank(candidates, given, "red", config=config)
        assert (
            not result.ok and "OPENAI_API_KEY" in result.fallback_reason
        )  # no endpoint here: the order kept
        assert result.panorama is not None
    kept = mmrag_lab.rerank(candidates, query.read_bytes(), "red", config=config)
    assert str(query) not in [str(hit) for hit in kept.hits]  # the query's own bytes left out


def test_rerank_many_names_a_wrong_list_and_reports_a_bad_item(lite, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config, images, query, _ = lite
    for queries, message in ((5, "queries must be a list of"), ([5], "queries must be a list of")):
        with pytest.raises(ConfigError, match=message):
            mmrag_lab.rerank_many(queries, config=config)
    with pytest.raises(ConfigError, match="concurrency must be a whole number"):
        mmrag_lab.rerank_many([], concurrency="four", config=config)
    candidates = sorted(images.glob("*.jpg"))
    good, bad = mmrag_lab.rerank_many([(candidates, query, "red"), (candidates, 5, "red")], config=config)
    assert "OPENAI_API_KEY" in good.fallback_reason and "image must be an image" in bad.fallback_reason


EVALUATE = [
    ({"queries": 5}, "queries must be a query file or folder (a path), or a list of Query; got int 5"),
    ({"queries": [5]}, "queries must be a query file or folder"),
    ({"queries": ""}, "queries is empty"),
    ({"loader_options": "split=val"}, "loader_options must be a dict"),
    ({"ks": "x"}, "ks (a whole number or a list of them) must be a whole number"),
    ({"ks": [1, "five"]}, "ks (a whole number or a list of them)"),
    ({"prices": "cheap"}, "prices must be a dict"),
    ({"out_dir": 5}, "out_dir must be a path"),
    ({"out_dir": "s3://bucket/run"}, "out_dir 's3://bucket/run' is a URL; mmrag_lab writes local files only"),
    ({"encoder": "tiny"}, "encoder must be an Encoder"),
    ({"store": "lite.db"}, "store must be a Store"),
    ({"rerank": "no"}, "rerank must be True or False"),
    ({"exclude_reference": "yes"}, "exclude_reference must be True or False or None"),
    ({"missing": 0}, "missing must be a text"),
]


@pytest.mark.parametrize("given,message", EVALUATE, ids=[m[:40] for _, m in EVALUATE])
def test_evaluate_names_each_argument_of_the_wrong_type(lite, no_model, tmp_path, given, message):
    config, _, query, before = lite
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        json.dumps({"image": query.name, "instruction": "red", "targets": [query.name]}) + "\n"
    )
    arguments = {"queries": queries, "config": config, "out_dir": str(tmp_path / "run"), **given}
    with pytest.raises(ConfigError) as caught:
        mmrag_lab.evaluate(arguments.pop("queries"), **arguments)
    assert message in str(caught.value)
    assert not (tmp_path / "run").exists() and snapshot(config.milvus_uri) == before


def test_a_query_set_instruction_with_a_lone_surrogate_fails_only_its_query(lite, tiny_encoder, tmp_path):
    config, images, _, _ = lite
    first, second = sorted(images.glob("*.jpg"))[:2]
    lines = [{"id": "ok", "image": first.name, "instruction": "red", "targets": [second.name]},
             {"id": "bad", "image": second.name, "instruction": "red \udcff", "targets": [first.name]}]  # fmt: skip
    queries = tmp_path / "q.jsonl"
    queries.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    run = mmrag_lab.evaluate(queries, config=config, encoder=tiny_encoder, out_dir=str(tmp_path / "run"))
    assert run.metrics["queries"]["n_loaded"] == 2 and run.metrics["queries"]["n_encoded"] == 1


def mmrag(*argv: str | bytes, folder) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")}
    environ["MMRAG_LOG_DIR"] = str(folder / "logs")
    done = subprocess.run([sys.executable, "-m", "mmrag_lab.cli", *argv], capture_output=True, env=environ,
                          cwd=folder, timeout=300)  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")


CLI = [
    (["search", "--image", "", "--text", "x"], "--image is empty; give a path"),
    (
        ["search", "--image", URL],
        f"--image {URL!r} is a URL; mmrag_lab reads local files only. Download it first",
    ),
    (["search", "--image", "file:///tmp/a.jpg"], "is a URL"),
    (["search", "--text", "x", "--out", ""], "--out is empty"),
    (["search", "--text", "x", "--out", "s3://bucket/out"], "writes local files only"),
    (["search", "--text", b"red \xff dress"], "text holds a lone surrogate"),
    (["search", "--image", "a.jpg", "--instruction", b"\xfe"], "instruction holds a lone surrogate"),
    (["eval", ""], "queries is empty"),
    (["eval", "q.jsonl", "--out", ""], "--out is empty"),
    (["ingest", ""], "images_dir (IMAGES_DIR) is empty"),
    (["ingest", "https://example.com/photos/"], "is a URL; mmrag_lab reads local files only"),
    (["ingest", "images", "--metadata", ""], "metadata (--metadata) is empty"),
]


@pytest.mark.parametrize("argv,message", CLI, ids=[m[:40] for _, m in CLI])
@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_the_cli_refuses_empty_paths_urls_and_surrogates(lite, tmp_path, argv, message):
    config, images, query, before = lite
    (tmp_path / "images").mkdir()
    (tmp_path / "a.jpg").write_bytes(query.read_bytes())
    (tmp_path / "q.jsonl").write_text(
        json.dumps({"image": "a.jpg", "instruction": "x", "targets": ["a.jpg"]})
    )
    code, text = mmrag(
        *argv, "--uri", config.milvus_uri, "--collection", "badinput", "--device", "cpu", folder=tmp_path
    )
    assert_refused(code, text, [message])
    assert TRACEBACK not in text and not (tmp_path / "logs").exists()
    assert snapshot(config.milvus_uri) == before
