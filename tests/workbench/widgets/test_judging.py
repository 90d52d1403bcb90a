"""The app's keywords box, like/unlike toggles and Refine button, driven headless."""

from __future__ import annotations

import pytest

from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.workbench.runtime.sample import sample_metadata
from mmrag_lab.workbench.widgets.judging import LIKE, UNLIKE
from mmrag_lab.workbench.widgets.search_app import SearchApp


@pytest.fixture(scope="module")
def collection(tmp_path_factory, sample_dir, tiny_encoder) -> Config:
    root = tmp_path_factory.mktemp("app-fb")
    config = Config.load(env={}, milvus_uri=str(root / "app.db"), collection="app", encoder="tiny",
                         weights="untrained", device="cpu", cache_dir=str(root / "cache"))  # fmt: skip
    ingest(sample_dir, config=config, encoder=tiny_encoder, metadata=sample_metadata(), progress=False,
           options=IngestOptions(workers=0), text_fields="title")  # fmt: skip
    return config


@pytest.fixture(autouse=True)
def no_llm_env(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_unlike_one_hit_then_refine_changes_the_grid_and_names_the_round(collection):
    app = SearchApp(collection)
    app.pick.index = 3
    app.search_button.click()
    first = list(app.results.paths)
    assert len(app.judge.toggles) == 9 and not app.refine_button.disabled
    app.judge.toggles[1].value = UNLIKE
    app.refine_button.click()
    assert app.results.round == 1 and first[1] not in app.results.paths
    assert "Round 1" in app.message.value and "Round 1" in app.round_label.value
    assert "unliked " + first[1].rsplit("/", 1)[1] in app.round_label.value
    assert app.figure.get_suptitle().count("Round 1") == 1
    app.judge.toggles[0].value = LIKE
    app.refine_button.click()
    assert app.results.round == 2 and len(app.results.liked) == 1 and len(app.results.unliked) == 1


def test_refine_without_a_judgement_says_what_to_do(collection):
    app = SearchApp(collection)
    app.pick.index = 3
    app.search_button.click()
    app.refine_button.click()
    assert "Toggle like or unlike" in app.message.value and app.results is None


def test_keywords_alone_search_the_text_field(collection):
    app = SearchApp(collection)
    app.keywords.value = "sleeveless"
    app.search_button.click()
    assert app.results is not None and app.results.query.mode == "keywords"
    assert all("sleeveless" in hit.meta["title"].lower() for hit in app.results)


def test_after_a_rerank_the_toggles_follow_the_reranked_order(collection):
    app = SearchApp(collection)
    app.pick.index = 3
    app.search_button.click()
    app.rerank_button.click()  # no endpoint: the retrieval order is kept, the toggles are the reranked grid
    assert [hit.path for hit in app.judge.hits] == [hit.path for hit in app.reranked.hits]
    judged = app.reranked.hits[0]
    app.judge.toggles[0].value = UNLIKE
    app.refine_button.click()
    assert app.results.round == 1 and app.reranked is None
    assert app.results.unliked == [judged.id] and judged.path not in app.results.paths
