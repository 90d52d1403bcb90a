"""A collection written by the content-hash keyed schema (record format 1) is recognised and migrated in
place with ``mmrag migrate``, on real Milvus Lite and the real Milvus 2.3.5 server: no vector re-encoded,
nothing lost."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from mmrag_lab.cli import main as cli_main
from mmrag_lab.errors import SchemaOutdatedError
from mmrag_lab.images import load_image
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.retrieval.query import search
from mmrag_lab.store.record import RECORD_PROPERTY
from mmrag_lab.store.schema import FORMAT1_FIELDS, build_index, build_schema
from mmrag_lab.store.vector_store import Store

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes


def write_format1_collection(target, folder, encoder) -> dict[str, dict]:
    """What today's (format 1) code wrote: one row per content hash, CSV metadata as text."""
    files = sorted(folder.rglob("*.jpg"))
    vectors = encoder.encode_images([str(f) for f in files])
    rows = {}
    for file, vector in zip(files, vectors, strict=True):
        data = file.read_bytes()
        width, height = load_image(file).size
        digest = hashlib.sha256(data).hexdigest()
        rows[digest] = {"id": digest, "vector": vector, "path": str(file), "width": width, "height": height,
                        "file_size": len(data), "meta": {"category": file.parent.name, "year": "2020"}}  # fmt: skip
    info = encoder.info
    record = {"format": 1, "encoder": info.name, "dim": info.dim, "metric": "COSINE", "index_type": "AUTOINDEX",
              "fingerprint": info.fingerprint, "weights": str(info.weights), "untrained": True,
              "metadata_keys": ["category", "year"]}  # fmt: skip
    with Store.open(target.config()) as store:
        store.client.create_collection(
            target.collection,
            schema=build_schema(info.dim, FORMAT1_FIELDS),
            index_params=build_index(store.client, "AUTOINDEX", "COSINE"),
            consistency_level="Strong",
            properties={RECORD_PROPERTY: json.dumps(record)},
        )
        store.client.upsert(target.collection, list(rows.values()))
        store.flush_and_load()
    return rows


def test_a_format1_collection_is_recognised_and_migrated_in_place(store_uri, tmp_path, sample_dir, tiny_encoder,
                                                                   capsys):  # fmt: skip
    folder = tmp_path / "photos"
    shutil.copytree(sample_dir, folder)
    old = write_format1_collection(store_uri, folder, tiny_encoder)

    with pytest.raises(SchemaOutdatedError) as caught:
        ingest(folder, config=store_uri.config(), encoder=tiny_encoder, options=INLINE, progress=False)
    command = f"mmrag migrate --uri {store_uri.uri} --collection {store_uri.collection}"
    assert command in str(caught.value)
    with pytest.raises(SchemaOutdatedError, match="mmrag migrate"):
        search(text="a dress", config=store_uri.config(), encoder=tiny_encoder)

    args = ["migrate", "--uri", store_uri.uri, "--collection", store_uri.collection]
    assert cli_main(args) == 0
    assert "40 row(s)" in capsys.readouterr().out
    with Store.open(store_uri.config()) as store:
        record = store.record()
        assert (record.format, record.roots) == (2, {"photos": str(folder)})
        rows = list(store.iterate(("vector", "path", "rel_path", "content_hash", "width", "height", "meta")))
    assert len(rows) == len(old) == 40
    for row in rows:
        before = old[row["content_hash"]]
        assert np.allclose(row["vector"], before["vector"])  # the same vector, not a new one
        assert (row["path"], row["width"], row["height"], row["meta"]) == (
            before["path"], before["width"], before["height"], before["meta"])  # fmt: skip
        assert str(folder / row["rel_path"]) == row["path"]
    assert cli_main(args) == 0 and "already has the current schema" in capsys.readouterr().out

    report = ingest(folder, config=store_uri.config(), encoder=tiny_encoder, options=INLINE, progress=False)
    assert (report.encoded, report.ingested, report.updated, report.unchanged) == (0, 0, 0, 40)
