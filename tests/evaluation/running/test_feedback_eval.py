"""Evaluating keywords and relevance feedback on the bundled sample in real Milvus Lite: oracle feedback
rounds that ``compare`` accepts, and keywords taken from a query-set field."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from mmrag_lab.config import Config
from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation import EvalProtocol
from mmrag_lab.evaluation.comparing.compare import compare
from mmrag_lab.evaluation.inputs.folders import folder_queries
from mmrag_lab.evaluation.records.rundir import load_run
from mmrag_lab.evaluation.running.evaluate_run import evaluate
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.workbench.runtime.sample import sample_metadata

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes

K = 5


@pytest.fixture(scope="module")
def sample(tmp_path_factory, sample_dir, tiny_encoder) -> Config:
    root = tmp_path_factory.mktemp("fb-eval")
    cfg = Config.load(env={}, milvus_uri=str(root / "s.db"), collection="s", encoder="tiny", weights="untrained",
                      device="cpu", cache_dir=str(root / "cache"))  # fmt: skip
    ingest(sample_dir, config=cfg, encoder=tiny_encoder, metadata=sample_metadata(), options=INLINE,
           progress=False, text_fields="title")  # fmt: skip
    return cfg


def test_feedback_rounds_are_runs_that_compare_accepts(sample, sample_dir, tiny_encoder, tmp_path):
    run = evaluate(folder_queries(sample_dir), config=sample, encoder=tiny_encoder, protocol=EvalProtocol(feedback_rounds=2,
                   feedback_k=K), out_dir=tmp_path / "run", progress=False)  # fmt: skip
    rounds = run.metrics["feedback_rounds"]
    assert [entry["round"] for entry in rounds] == [1, 2]
    first = load_run(tmp_path / "run" / "round-1")
    assert (
        first.metrics["settings"]["feedback"]["round"] == 1
        and first.metrics["settings"]["feedback"]["k"] == K
    )
    # the oracle liked exactly the targets among round 0's top K
    expected = sum(len(set(r["ranking"][:K]) & set(r["targets"])) for r in run.rankings)
    assert rounds[0]["liked"] == expected and rounds[0]["liked"] + rounds[0]["unliked"] == K * len(
        run.rankings
    )
    assert [r["ranking"] for r in first.rankings] != [r["ranking"] for r in run.rankings]
    comparison = compare(tmp_path / "run", tmp_path / "run" / "round-1", tmp_path / "run" / "round-2")
    assert comparison.checks["comparable"], comparison.checks["problems"]


def _unique_words() -> dict[str, str]:
    """Words that occur in exactly one title of the sample, with that image's file name."""
    with open(sample_metadata(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    words = {row["file"]: set(re.findall(r"[a-z]+", row["title"].lower())) for row in rows}
    counts = Counter(word for found in words.values() for word in found)
    return {next(w for w in sorted(found) if counts[w] == 1): name for name, found in words.items()
            if any(counts[w] == 1 and len(w) > 4 for w in found)}  # fmt: skip


def test_keywords_from_a_field_with_bm25_alone_put_the_only_titled_image_first(sample, sample_dir, tiny_encoder,
                                                                              tmp_path):  # fmt: skip
    chosen = list(_unique_words().items())[:4]
    query_image = sorted(sample_dir.rglob("*.jpg"))[0].name
    lines = [json.dumps({"image": query_image, "instruction": "like this", "targets": [name], "title": word})
             for word, name in chosen if name != query_image]  # fmt: skip
    queries = tmp_path / "q.jsonl"
    queries.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = evaluate(queries, config=sample, encoder=tiny_encoder, protocol=EvalProtocol(keywords_from="title", fusion="weighted:1"),
                   progress=False)  # fmt: skip
    assert run.metrics["retrieval"]["overall"]["recall@1"] == 1.0
    assert run.metrics["settings"]["keywords"] == {"from": "title", "fusion": "weighted:1"}
    with pytest.raises(EvaluationError, match="field 'caption'"):
        evaluate(
            queries,
            config=sample,
            encoder=tiny_encoder,
            protocol=EvalProtocol(keywords_from="caption"),
            progress=False,
        )


@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_the_cli_prints_each_round(sample, sample_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "mmrag_lab.cli", "eval", str(sample_dir), "--kind", "folders",
                           "--uri", sample.milvus_uri, "--collection", "s", "--encoder", "tiny", "--weights",
                           "untrained", "--device", "cpu", "--feedback-rounds", "1", "--out", str(tmp_path / "r"),
                           "--no-progress"], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "feedback round 1 (" in done.stdout and (tmp_path / "r" / "round-1" / "metrics.json").is_file()
