"""Text fields on real Milvus Lite: made from the sidecar at write time, added by ``mmrag migrate``."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.retrieval.query import search
from mmrag_lab.store.text_fields import parse_columns, text_of
from mmrag_lab.store.vector_store import Store
from mmrag_lab.workbench.runtime.sample import sample_metadata

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes


def test_text_of_joins_the_named_columns_it_has():
    assert (
        text_of({"title": "Red dress", "category": "dress", "n": 3}, ("title", "n", "gone"))
        == "Red dress | 3"
    )
    assert text_of(None, ("title",)) == "" and len(text_of({"t": "é" * 70000}, ("t",)).encode()) <= 65535
    assert parse_columns("x", " title, caption ,title") == ("title", "caption")
    with pytest.raises(ConfigError, match="empty column"):
        parse_columns("--text-fields", "title,,caption")


@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_migrate_adds_text_fields_to_an_old_collection_keeping_every_vector(
    tmp_path, sample_dir, tiny_encoder
):
    cfg = Config.load(env={}, milvus_uri=str(tmp_path / "old.db"), collection="old", encoder="tiny",
                      weights="untrained", device="cpu")  # fmt: skip
    ingest(
        sample_dir,
        config=cfg,
        encoder=tiny_encoder,
        metadata=sample_metadata(),
        options=INLINE,
        progress=False,
    )
    with Store.open(cfg) as store:
        before = {row["id"]: row["vector"] for row in store.iterate(("vector",))}
    done = subprocess.run([sys.executable, "-m", "mmrag_lab.cli", "migrate", "--text-fields", "title,category",
                           "--uri", cfg.milvus_uri, "--collection", "old"],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "40 row(s) copied" in done.stdout
    with Store.open(cfg) as store:
        store.refresh()
        assert store.record().text_fields == ("title", "category")
        after = {row["id"]: row["vector"] for row in store.iterate(("vector",))}
        assert after.keys() == before.keys()
        assert all(np.allclose(after[key], before[key]) for key in before)
    hits = search(keywords="sleeveless", config=cfg, k=5)
    assert hits.paths and all("sleeveless" in hit.meta["title"].lower() for hit in hits)
    with pytest.raises(ConfigError, match="mmrag migrate"):
        ingest(
            sample_dir, config=cfg, encoder=tiny_encoder, options=INLINE, progress=False, text_fields="title"
        )


def test_the_backend_says_whether_it_has_bm25_and_hybrid_search(store_uri):
    with Store.open(store_uri.config()) as store:
        reason = store.backend.text_search_refusal(store.client)
        if store_uri.kind == "lite":
            assert reason is None and store.backend.bm25_sign == -1.0
        else:  # the project's Milvus 2.3.5 server
            assert "Milvus Lite" in reason and ">= 2.5" in reason and "\n" not in reason
