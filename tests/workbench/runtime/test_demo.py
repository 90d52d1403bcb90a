"""``make demo`` (``python -m mmrag_lab.workbench.runtime.demo``) on this offline machine: exit 0 and say what the user got."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

from mmrag_lab.config import Config
from mmrag_lab.reranking.llm import reranker_configured
from mmrag_lab.workbench.runtime.demo import banner, collection_name
from mmrag_lab.workbench.runtime.weights_choice import WeightsChoice


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_demo_runs_offline_and_says_what_the_user_got(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MMRAG_", "HF_"))}
    env.update(MMRAG_ENCODER="tiny", MMRAG_DEVICE="cpu", MMRAG_CACHE_DIR=str(tmp_path / "cache"),
               HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}")  # fmt: skip
    out = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-m", "mmrag_lab.workbench.runtime.demo", "--out", str(out)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert text.startswith("=" * 20) and text.rstrip().endswith("=" * 20)
    assert text.count("UNTRAINED WEIGHTS: this demo's vectors, scores and rankings MEAN NOTHING") == 2
    assert "40 images seen, 40 ingested" in text
    assert "9 hits for" in text
    query, best = re.search(r"9 hits for (\S+) .*; best: (\S+) ", text).groups()
    assert query != best  # the query image is left out of its own results
    assert "3. rerank:  skipped: no OPENAI_API_KEY or OPENAI_BASE_URL" in text
    assert "40 vectors of dim" in text
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and p.name != "demo.db"]
    executed = sorted(p.name for p in run_dir.glob("*.ipynb"))
    assert executed == ["01_ingest.ipynb", "02_search.ipynb", "04_inspect.ipynb"]
    assert all(str(run_dir / name) in text for name in executed)
    figures = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    assert "02_search-results.png" in figures and "04_inspect-map.png" in figures
    assert f"Pictures ({len(figures)}): {run_dir / 'figures'}" in text
    assert (out / "demo.db").is_dir()


def test_banner_is_loud_only_for_untrained_weights():
    offline = WeightsChoice("untrained", True, "Visualized_base_en_v1.5.pth is not on this machine")
    loud = banner(offline, "visualized-bge-base")
    assert "MEAN NOTHING" in loud and "MMRAG_WEIGHTS=/path/to/Visualized_base_en_v1.5.pth" in loud
    assert "huggingface-cli download BAAI/bge-visualized" in loud
    quiet = banner(WeightsChoice("/w/v.pth", False, "given"), "visualized-bge-base")
    assert "MEAN NOTHING" not in quiet and "real weights" in quiet


def test_collections_never_mix_trained_and_untrained():
    assert collection_name("visualized-bge-base", True) == "demo_visualized_bge_base_untrained"
    assert collection_name("visualized-bge-base", False) != collection_name("visualized-bge-base", True)


def test_rerank_is_configured_by_key_or_endpoint(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert not reranker_configured(Config.load(env={}))
    assert reranker_configured(Config.load(env={}, llm_base_url="http://127.0.0.1:1/v1"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert reranker_configured(Config.load(env={}))
