"""``mmrag search`` end to end on Milvus Lite: table, JSON, figures, and --rerank with and without an LLM."""

from __future__ import annotations

import json

import pytest
from openai_stub import OpenAIStub
from PIL import Image

from mmrag_lab.cli import main
from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.workbench.runtime.sample import sample_metadata

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes

CANARY = "sk-" + "canary-cli-5e1d7a9b3c2f4e6a8b0c"  # built, so no key-like literal is tracked


@pytest.fixture(scope="module")
def lite(tmp_path_factory, sample_dir, tiny_encoder):
    uri = str(tmp_path_factory.mktemp("cli") / "lite.db")
    cfg = Config.load(env={}, milvus_uri=uri, collection="cli_search", encoder="tiny", weights="untrained")
    ingest(
        sample_dir,
        config=cfg,
        encoder=tiny_encoder,
        metadata=sample_metadata(),
        options=INLINE,
        progress=False,
    )
    return uri, str(sorted(sample_dir.rglob("*.jpg"))[0])


@pytest.fixture()
def cli(lite, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    uri, query = lite

    def run(*extra: str) -> int:
        base = [
            "search",
            "--uri",
            uri,
            "--collection",
            "cli_search",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "out"),
        ]
        return main([*base, *extra])

    return run, query, tmp_path / "out"


def test_table_and_result_grid(cli, capsys):
    run, query, out = cli
    assert run("--image", query, "--instruction", "make it red", "-k", "5", "--where", "category=dress") == 0
    printed = capsys.readouterr().out
    assert "UNTRAINED" in printed and printed.count("category=dress") >= 1
    assert Image.open(out / "results.png").size[0] > 0
    assert not (out / "panorama.png").exists()


def test_json_output_and_repeated_where_keys(cli, capsys):
    run, query, out = cli
    assert run("--image", query, "--where", "category=dress", "--where", "category=hat", "--where", "min_width=300",
               "-k", "40", "--json") == 0  # fmt: skip
    record = json.loads(capsys.readouterr().out)
    assert json.loads((out / "results.json").read_text()) == record
    assert {hit["meta"]["category"] for hit in record["hits"]} == {"dress", "hat"}
    assert record["untrained"] is True and record["query"]["mode"] == "image"
    assert "min_width" not in record["query"]["filter"] and "width >= 300" in record["query"]["filter"]


def test_rerank_without_an_endpoint_keeps_retrieval_order(cli, capsys):
    run, query, out = cli
    assert run("--image", query, "--instruction", "in red", "--rerank", "--json") == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["rerank"]["order"] == list(range(9))
    assert "OPENAI_API_KEY" in captured.err and "OPENAI_BASE_URL" in captured.err
    assert (out / "panorama.png").exists() and (out / "reranked.png").exists()


def test_rerank_through_an_endpoint_and_no_key_in_any_file(cli, capsys, monkeypatch, tmp_path):
    run, query, out = cli
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_API_KEY", CANARY)
        assert (
            run("--image", query, "--instruction", "in red", "--rerank", "--llm-base-url", stub.base_url) == 0
        )
    printed = capsys.readouterr().out
    assert (
        "reranked by gpt-4o" in printed and "why #1: Candidate 9" in printed
    )  # the stub names its pick in the prompt's 1-9 numbering
    assert stub.requests[-1].headers["authorization"] == f"Bearer {CANARY}"
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.parent.name == "rerank" for path in written)  # the reply cache
    for path in written:
        assert CANARY.encode() not in path.read_bytes(), path


def test_the_old_reranker_spellings_still_rerank_and_name_the_new_ones(cli, capsys):
    run, query, _ = cli
    with OpenAIStub() as stub:
        code = run("--image", query, "--rerank", "--model", "gpt-4o-mini", "--base-url", stub.base_url)
        assert code == 0 and stub.requests
    captured = capsys.readouterr()
    assert "reranked by gpt-4o-mini" in captured.out
    assert "--model is deprecated and goes in the next release; use --llm-model instead" in captured.err
    assert "use --llm-base-url instead" in captured.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--where", "category"], "KEY=VALUE"),
        (["--where", "min_width=wide"], "whole number"),
        ([], "Nothing"),
    ],
)
def test_bad_arguments_exit_2_with_a_reason(cli, capsys, args, message):
    run, _, _ = cli
    assert run(*args) == 2
    assert message in capsys.readouterr().err


def test_the_query_image_is_left_out_unless_keep_query(cli, capsys):
    run, query, _ = cli
    assert run("--image", query, "-k", "3", "--json") == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert len(hits) == 3 and query not in [hit["path"] for hit in hits]
    assert run("--image", query, "-k", "3", "--json", "--keep-query") == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["path"] == query


def test_search_help_documents_the_where_rules(capsys):
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for rule in ("repeat a key to accept several values", "the size keys take whole numbers",
                 "one pair of quotes around VALUE", "app's filter box"):  # fmt: skip
        assert rule in help_text, rule
