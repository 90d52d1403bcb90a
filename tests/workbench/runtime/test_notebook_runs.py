"""The real notebooks, run headless through papermill on the bundled sample with the tiny untrained encoder.

One module-wide run executes 01 → 04 into one run folder, with the reranker pointed at the local
chat-completions server, then 03 once more with no endpoint at all. A canary key and a canary Milvus token
sit in the environment the whole time; neither may appear in any file written.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from openai_stub import OpenAIStub

from mmrag_lab.errors import ConfigError
from mmrag_lab.workbench.runtime.notebook_runs import NOTEBOOKS_DIR, check_parameters, run_notebook
from mmrag_lab.workbench.runtime.recorder import load_record

K = 5
STUB_RANKING = [3, 1, 4, 0, 2]
CANARY_KEY = f"sk-canary-{uuid.uuid4().hex}"
CANARY_TOKEN = f"milvus-canary-{uuid.uuid4().hex}"
MINE = ("01_ingest", "02_search", "03_rerank", "04_inspect")


@dataclass
class Runs:
    root: Path
    main: Path
    fallback: Path
    requests: list


# The module-wide run takes about 40 s on 2 CPU cores: the tests that read it are marked slow (make check
# leaves them out); the checks of the committed notebooks are fast.
@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("notebooks")
    params = {"URI": str(root / "nb.db"), "COLLECTION": "nb", "ENCODER": "tiny", "WEIGHTS": "untrained",
              "DEVICE": "cpu", "K": K, "INSTRUCTION": "the same, but in red"}  # fmt: skip
    main, fallback = root / "main", root / "fallback"
    with pytest.MonkeyPatch.context() as env, OpenAIStub(ranking=STUB_RANKING) as stub:
        env.setenv("OPENAI_API_KEY", CANARY_KEY)
        env.setenv("MMRAG_MILVUS_TOKEN", CANARY_TOKEN)
        env.setenv("OPENAI_BASE_URL", stub.base_url)
        env.setenv("MMRAG_CACHE_DIR", str(root / "cache"))
        env.setenv("HF_HUB_OFFLINE", "1")
        for name in MINE:
            run_notebook(name, main, {**params, "RUN_DIR": str(main)})
        requests = list(stub.requests)
        env.delenv("OPENAI_API_KEY")
        env.delenv("OPENAI_BASE_URL")
        env.setenv("MMRAG_CACHE_DIR", str(root / "cache-empty"))  # a cached reply would still rerank
        run_notebook("03_rerank", fallback, {**params, "RUN_DIR": str(fallback)})
    return Runs(root, main, fallback, requests)


def _outputs(path: Path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [out for cell in cells if cell["cell_type"] == "code" for out in cell["outputs"]]


def _figure(record: dict, name: str, run_dir: Path) -> dict:
    entry = record["figures"][name]
    assert (run_dir / entry["png"]).stat().st_size > 10_000
    assert entry["untrained_mark"]
    return entry


@pytest.mark.slow
def test_ingest_notebook(runs):
    record = load_record(runs.main, "01_ingest")
    assert record["setup"]["prefix"] == sys.prefix  # the kernel is this environment's Python
    ingest = record["ingest"]
    assert (ingest["seen"], ingest["ingested"], ingest["failed"]) == (40, 40, [])
    assert ingest["untrained"] and ingest["encoder"] == "tiny"
    assert len(record["thumbnails"]["paths"]) == 24
    assert _figure(record, "thumbnails", runs.main)["images"] == 24
    assert (runs.main / "figures" / "01_ingest-failures.png").is_file()
    assert json.loads((runs.main / "01_ingest-report.json").read_text())["ingested"] == 40


@pytest.mark.slow
def test_search_notebook(runs):
    record = load_record(runs.main, "02_search")
    hits = record["search"]["hits"]
    assert [hit["rank"] for hit in hits] == list(range(1, K + 1))
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert record["search"]["untrained"] and record["search"]["query"]["mode"] == "composed"
    grid = _figure(record, "results", runs.main)
    assert grid["images"] == K + 1 and grid["panel_titles"][0] == "query"
    refine = record["refine"]
    assert (
        refine["round"] == 1 and refine["liked"] == [hits[0]["id"]] and refine["unliked"] == [hits[1]["id"]]
    )
    assert {hits[0]["id"], hits[1]["id"]}.isdisjoint(hit["id"] for hit in refine["hits"])
    outputs = _outputs(runs.main / "02_search.ipynb")
    assert any("image/png" in out.get("data", {}) for out in outputs)
    assert not [out for out in outputs if out["output_type"] == "error"]


@pytest.mark.slow
def test_rerank_notebook_with_an_endpoint(runs):
    record = load_record(runs.main, "03_rerank")
    rerank = record["rerank"]
    assert rerank["fallback_reason"] is None
    assert rerank["order"] == STUB_RANKING and rerank["explanation"]
    assert [hit["id"] for hit in rerank["hits"]] == [record["search"]["hits"][i]["id"] for i in STUB_RANKING]
    assert len(runs.requests) == 1 and len(runs.requests[0].image_urls) == 1
    assert runs.requests[0].headers.get("authorization") == f"Bearer {CANARY_KEY}"
    moves = _figure(record, "rerank", runs.main)["panel_titles"]
    assert "#1 ▲3 (was #4)" in moves
    assert (runs.main / "figures" / "03_rerank-panorama.jpg").stat().st_size > 5_000


@pytest.mark.slow
def test_rerank_notebook_without_an_endpoint_falls_back_and_says_how(runs):
    rerank = load_record(runs.fallback, "03_rerank")["rerank"]
    assert rerank["order"] == list(range(K))
    assert "OPENAI_API_KEY" in rerank["fallback_reason"]
    text = (runs.fallback / "03_rerank.ipynb").read_text(encoding="utf-8")
    assert "No reranker endpoint is configured" in text
    assert (runs.fallback / "figures" / "03_rerank-panorama.jpg").is_file()


@pytest.mark.slow
def test_inspect_notebook(runs, tiny_encoder):
    record = load_record(runs.main, "04_inspect")
    summary = record["summary"]
    assert (summary["count"], summary["dim"], summary["encoder"]) == (40, tiny_encoder.dim, "tiny")
    assert summary["metadata_keys"] == ["category", "title"]
    assert record["map"]["count"] == 40 and len(record["map"]["explained_variance"]) == 2
    assert len(record["scores"]["scores"]) == 40 and len(record["scores"]["top"]) == K
    assert len(record["near_duplicates"]["pairs"]) == 6
    assert 10 <= _figure(record, "map", runs.main)["thumbnails"] <= 40  # the ones that do not overlap
    assert _figure(record, "near_duplicates", runs.main)["images"] == 12
    _figure(record, "scores", runs.main)


@pytest.mark.slow
def test_no_secret_reaches_any_written_file(runs):
    written = [path for path in runs.root.rglob("*") if path.is_file()]
    assert len(written) > 20
    leaks = [str(p) for p in written for s in (CANARY_KEY, CANARY_TOKEN) if s.encode() in p.read_bytes()]
    assert leaks == []


@pytest.mark.parametrize("path", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_are_clean(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code), (
        f"{path.name} has outputs: run `make strip` before committing"
    )
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", MINE)
def test_notebook_parameters_hold_no_secrets(name):
    import papermill

    check_parameters(papermill.inspect_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb")))


def test_secret_like_parameters_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        check_parameters({"URI": "x.db", "OPENAI_API_KEY": "sk-..."})
    with pytest.raises(ConfigError, match="MILVUS_TOKEN"):
        run_notebook("02_search", tmp_path, {"K": 1, "MILVUS_TOKEN": CANARY_TOKEN})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", MINE)
@pytest.mark.slow
def test_notebook_runs_print_no_grpc_noise_or_traceback(runs, name):
    noise = ("too_many_pings", "GOAWAY", "Traceback", "StatusCode.", "Connection recovery failed", "grpc")
    for run_dir in (runs.main, runs.fallback) if name == "03_rerank" else (runs.main,):
        stderr = "".join(
            "".join(out.get("text", ""))
            for out in _outputs(run_dir / f"{name}.ipynb")
            if out["output_type"] == "stream" and out.get("name") == "stderr"
        )
        assert not [word for word in noise if word in stderr], stderr[-2000:]
        assert not [out for out in _outputs(run_dir / f"{name}.ipynb") if out["output_type"] == "error"]
