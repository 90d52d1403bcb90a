"""One name per parameter: the table in ARCHITECTURE.md holds for the signatures of the public API and for
the CLI's parsers, and the shared names work on a real Milvus Lite collection."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import mmrag_lab
from mmrag_lab.cli import build_parser
from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError
from mmrag_lab.evaluation.inputs.folders import folder_queries
from mmrag_lab.store.vector_store import Store

TABLE = Path(__file__).resolve().parents[1] / "ARCHITECTURE.md"
API = ("ingest", "search", "rerank", "evaluate", "compare", "collection_summary")


def table_rows() -> list[tuple[str, str, str]]:
    text = TABLE.read_text(encoding="utf-8").split("## One name per parameter", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:4] for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    return [tuple(cell.strip() for cell in row) for row in rows[1:]]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    [sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: parser for name, parser in sub.choices.items()}


def test_the_api_is_exported_from_the_package():
    for name in API:
        assert name in mmrag_lab.__all__ and callable(getattr(mmrag_lab, name)), name


@pytest.mark.parametrize("concept, python, cli", table_rows(), ids=[row[0] for row in table_rows()])
def test_each_row_of_the_naming_table_holds(concept, python, cli):
    for group in python.split("; "):
        if found := re.fullmatch(r"`(\w+)`(?: \([^)]*\))?: ([\w, ]+)", group):
            for function in found[2].split(", "):
                parameters = inspect.signature(getattr(mmrag_lab, function)).parameters
                assert found[1] in parameters, f"{function}() has no parameter {found[1]}"
        elif found := re.match(r"`Config\.(\w+)`", group):
            assert found[1] in Config.__dataclass_fields__, group
    parsers = subcommands()
    for option, commands in re.findall(r"`(-[\w-]+)` \(([\w, ]+)\)", cli):
        for command in commands.split(", "):
            flags = {flag for action in parsers[command]._actions for flag in action.option_strings}
            assert option in flags, f"mmrag {command} has no {option}"
        if option.startswith("--"):  # a shared option is offered by every command the row names, no other
            takers = {
                name for name, p in parsers.items() if any(option in a.option_strings for a in p._actions)
            }
            assert takers == set(commands.split(", ")), (option, takers)


def test_the_shared_names_have_the_same_defaults():
    signature = {name: inspect.signature(getattr(mmrag_lab, name)).parameters for name in API}
    assert signature["ingest"]["progress"].default is signature["evaluate"]["progress"].default is True
    for name in ("ingest", "search", "evaluate", "collection_summary"):
        assert signature[name]["collection"].default is None
    for name in ("search", "rerank"):
        assert signature[name]["exclude_query"].default is True and "image" in signature[name]


def test_ingest_takes_its_decode_and_compute_knobs_in_one_exported_options_value():
    options = inspect.signature(mmrag_lab.ingest).parameters["options"]
    assert options.default is None and "IngestOptions" in str(options.annotation)
    assert (
        mmrag_lab.IngestOptions is mmrag_lab.ingestion.IngestOptions and "IngestOptions" in mmrag_lab.__all__
    )
    assert mmrag_lab.ingest.folded_keywords == ("options", mmrag_lab.IngestOptions)
    moved = {field.name for field in dataclasses.fields(mmrag_lab.IngestOptions)}
    assert moved == {"workers", "fast_decode", "gpu_decode", "cpu_share", "dtype", "compile", "shard"}
    assert not moved & set(inspect.signature(mmrag_lab.ingest).parameters)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mmrag_lab.IngestOptions().workers = 2  # type: ignore[misc]
    with pytest.raises(ConfigError, match="workers .--workers. must be a whole number"):
        mmrag_lab.IngestOptions(workers=-1)


@pytest.fixture(scope="module")
def two_collections(tmp_path_factory, sample_dir, tiny_encoder) -> Config:
    uri = str(tmp_path_factory.mktemp("names") / "names.db")
    config = Config.load(env={}, milvus_uri=uri, collection="first", encoder="tiny", weights="untrained",
                         device="cpu")  # fmt: skip
    for name, folder in (("first", sample_dir / "dress"), ("second", sample_dir)):
        mmrag_lab.ingest(folder, config=config, collection=name, encoder=tiny_encoder, progress=False,
                         options=mmrag_lab.IngestOptions(workers=0))  # fmt: skip
    return config


def test_collection_picks_the_collection_in_search_evaluate_and_collection_summary(
    two_collections, sample_dir, tiny_encoder
):
    config = two_collections
    first, second = (mmrag_lab.collection_summary(config=config, collection=c) for c in ("first", "second"))
    assert (first.collection, second.collection) == ("first", "second") and first.count < second.count
    hits = mmrag_lab.search(text="a hat", k=50, config=config, collection="second", encoder=tiny_encoder)
    assert hits.collection == "second" and len(hits) == second.count
    run = mmrag_lab.evaluate(folder_queries(sample_dir), config=config, collection="second",
                             encoder=tiny_encoder, progress=False)  # fmt: skip
    assert run.config.settings["collection"] == "second"
    assert run.metrics["retrieval"]["n_evaluated"] == len(folder_queries(sample_dir))


def test_a_store_open_on_another_collection_than_collection_is_refused(two_collections, tiny_encoder):
    with Store.open(two_collections, read_only=True) as store:  # open on "first"
        assert mmrag_lab.collection_summary(store, collection="first").collection == "first"
        with pytest.raises(ConfigError, match="the store given is open on 'first'"):
            mmrag_lab.search(text="x", config=two_collections, store=store, collection="second",
                             encoder=tiny_encoder)  # fmt: skip
        with pytest.raises(ConfigError, match="the store given is open on 'first'"):
            mmrag_lab.collection_summary(store, collection="second")
    with pytest.raises(ConfigError, match="not a name Milvus accepts"):
        mmrag_lab.search(text="x", config=two_collections, collection="no such/name")
