"""The ingest and search notebooks through papermill with ``-p ENCODER`` for a BGE-VL and a CLIP preset
(untrained weights): the collection follows the encoder, and the search runs on that encoder's vectors."""

from __future__ import annotations

import shutil

import pytest

from mmrag_lab.config import collection_for
from mmrag_lab.workbench.runtime.notebook_runs import run_notebook
from mmrag_lab.workbench.runtime.recorder import load_record

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("encoder", ["bge-vl-base", "clip-vit-b16"])
def test_ingest_and_search_notebooks_with_another_encoder(encoder, tmp_path, sample_dir, monkeypatch):
    images = tmp_path / "images"
    for category in sorted(p for p in sample_dir.iterdir() if p.is_dir())[:3]:
        (images / category.name).mkdir(parents=True)
        for photo in sorted(category.glob("*.jpg"))[:2]:
            shutil.copy(photo, images / category.name / photo.name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("MMRAG_COLLECTION", raising=False)
    params = {"DATA_DIR": str(images), "URI": str(tmp_path / "nb.db"), "ENCODER": encoder, "WEIGHTS": "untrained",
              "DEVICE": "cpu", "K": 3, "RUN_DIR": str(tmp_path / "run"), "THUMBNAILS": 4}  # fmt: skip
    for name in ("01_ingest", "02_search"):
        run_notebook(name, tmp_path / "run", params)
    ingest = load_record(tmp_path / "run", "01_ingest")["ingest"]
    assert ingest["encoder"] == encoder and ingest["untrained"] and ingest["ingested"] == 6
    search = load_record(tmp_path / "run", "02_search")["search"]
    assert search["encoder"] == encoder and search["collection"] == collection_for(encoder)
    assert len(search["hits"]) == 3 and search["query"]["mode"] == "composed"
