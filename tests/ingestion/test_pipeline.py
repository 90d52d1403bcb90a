"""Ingest into a real Milvus Lite file and a real Milvus 2.3.5 server: idempotent, de-duplicated, pruned,
with metadata, bad input reported, and the real encoder (tiny preset, untrained weights) on the CPU."""

from __future__ import annotations

import csv
import json
import os
import shutil

import numpy as np
import pytest
import torch
from badimages import NON_UTF8_NAME, build_corpus, encoded, photo

import mmrag_lab
from mmrag_lab.cli import main as cli_main
from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.errors import CollectionMismatchError, ConfigError
from mmrag_lab.ingestion.cpu_mapper import PrepareDataset
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.ingestion.reader import Task
from mmrag_lab.ingestion.scan import ImageFile, content_id, to_fs_path
from mmrag_lab.store.vector_store import Store


def run_ingest(folder, target, encoder, workers=0, **options):
    options.setdefault("progress", False)
    return ingest(
        folder, config=target.config(), encoder=encoder, options=IngestOptions(workers=workers), **options
    )


def stored_rows(target) -> dict[str, dict]:
    with Store.open(target.config()) as store:
        rows = list(
            store.iterate(("path", "rel_path", "content_hash", "width", "height", "file_size", "meta"))
        )
        assert store.count() == len(rows)
    return {row["id"]: row for row in rows}


def test_sample_with_metadata_and_a_second_run_that_ingests_nothing(store_uri, sample_dir, tiny_encoder):
    metadata = sample_dir.parent / "metadata.csv"
    first = run_ingest(sample_dir, store_uri, tiny_encoder, metadata=metadata, workers=1)
    assert (first.seen, first.ingested, first.added, first.failed) == (40, 40, 40, [])
    assert first.untrained is True and first.encoder == "tiny"
    second = run_ingest(sample_dir, store_uri, tiny_encoder, metadata=metadata)
    assert (second.seen, second.ingested, second.encoded, second.unchanged) == (40, 0, 0, 40)

    titles = {row["file"]: row for row in csv.DictReader(metadata.open())}
    rows = stored_rows(store_uri)
    assert len(rows) == 40
    for row in rows.values():
        name = row["path"].rsplit("/", 1)[-1]
        assert row["meta"] == {"category": titles[name]["category"], "title": titles[name]["title"]}
        assert row["meta"]["category"] == row["path"].split("/")[-2]
    with Store.open(store_uri.config()) as store:
        assert store.describe()["metadata_keys"] == ["category", "title"]


def test_bad_input_never_stops_the_batch_and_is_never_silent(store_uri, tmp_path, tiny_encoder):
    corpus = build_corpus(tmp_path / "corpus", tmp_path / "outside")
    report = run_ingest(corpus.root, store_uri, tiny_encoder, workers=1, batch_size=4)
    root = report.images_dir + "/"

    failed = {item["path"].removeprefix(root): item["reason"] for item in report.failed}
    assert set(failed) == set(corpus.bad)
    for name, fragment in corpus.bad.items():
        assert fragment in failed[name], (name, failed[name])
    assert [d["path"].removeprefix(root) for d in report.duplicates] == corpus.duplicates
    assert report.seen == corpus.seen
    assert report.ingested == len(corpus.good) + len(corpus.duplicates)  # a duplicate is a row of its own
    assert report.encoded == len(corpus.good)  # ... but is encoded once

    rows = stored_rows(store_uri)
    by_path = {row["path"].removeprefix(root): row for row in rows.values()}
    assert set(by_path) == set(corpus.good) | set(corpus.duplicates)
    for name, size in corpus.good.items():
        row = by_path[name]
        assert (row["width"], row["height"]) == size, name
        with open(to_fs_path(row["path"]), "rb") as handle:
            assert row["content_hash"] == content_id(handle.read()), name
    non_utf8 = NON_UTF8_NAME.decode("utf-8", "backslashreplace")
    assert os.path.isfile(to_fs_path(root + non_utf8))
    json.dumps(report.to_dict())  # the report is valid JSON even with undecodable names


def test_same_bytes_under_two_paths_are_encoded_once_and_stored_under_each(store_uri, tmp_path, tiny_encoder):
    folder = tmp_path / "images"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    data = encoded(photo(seed=1), "JPEG")
    (folder / "a" / "first.jpg").write_bytes(data)
    (folder / "b" / "second name.jpg").write_bytes(data)
    (folder / "b" / "other.jpg").write_bytes(encoded(photo(seed=2), "JPEG"))
    report = run_ingest(folder, store_uri, tiny_encoder)
    assert (report.seen, report.ingested, report.encoded, len(report.duplicates)) == (3, 3, 2, 1)
    assert report.duplicates[0]["same_as"].endswith("a/first.jpg")
    rows = stored_rows(store_uri)
    twins = sorted(row["rel_path"] for row in rows.values() if row["content_hash"] == content_id(data))
    assert len(rows) == 3 and twins == ["a/first.jpg", "b/second name.jpg"]


def test_a_different_encoder_dimension_is_refused(store_uri, sample_dir, tiny_encoder, capsys):
    other = EncoderInfo("visualized-bge-base", 768, False, "Visualized_base_en_v1.5.pth", "0123abcd")
    with Store.open(store_uri.config()) as store:
        store.ensure_collection(other)
    with pytest.raises(CollectionMismatchError, match="dim 768.*dim 64"):
        run_ingest(sample_dir, store_uri, tiny_encoder)
    assert stored_rows(store_uri) == {}

    code = cli_main(["ingest", str(sample_dir), *cli_target(store_uri), "--no-progress"])
    assert code == 2
    assert "dim 768" in capsys.readouterr().err


def test_prune_deletes_rows_of_gone_files_and_moved_ones_keep_their_vector(store_uri, tmp_path, tiny_encoder):
    folder, elsewhere = tmp_path / "images", tmp_path / "elsewhere"
    for directory in (folder / "a", folder / "b", elsewhere):
        directory.mkdir(parents=True)
    for i in range(5):
        (folder / "a" / f"{i}.jpg").write_bytes(encoded(photo(seed=i), "JPEG"))
    (elsewhere / "kept.jpg").write_bytes(encoded(photo(seed=99), "JPEG"))
    run_ingest(folder, store_uri, tiny_encoder)
    run_ingest(elsewhere, store_uri, tiny_encoder)

    gone = {content_id((folder / "a" / f"{i}.jpg").read_bytes()) for i in (0, 1)}
    (folder / "a" / "0.jpg").unlink()
    (folder / "a" / "1.jpg").write_bytes(encoded(photo(seed=50), "JPEG"))  # same name, new bytes
    shutil.move(folder / "a" / "2.jpg", folder / "b" / "moved.jpg")
    report = run_ingest(folder, store_uri, tiny_encoder, prune=True)
    kinds = (
        report.ingested,
        report.encoded,
        report.reencoded,
        report.renamed,
        report.unchanged,
        report.pruned,
    )
    assert kinds == (2, 1, 1, 1, 2, 2)

    rows = stored_rows(store_uri)
    assert len(rows) == 5 and not gone & {row["content_hash"] for row in rows.values()}
    root = report.images_dir + "/"
    inside = sorted(row["path"].removeprefix(root) for row in rows.values() if row["path"].startswith(root))
    assert inside == ["a/1.jpg", "a/3.jpg", "a/4.jpg", "b/moved.jpg"]
    assert any(row["path"].endswith("elsewhere/kept.jpg") for row in rows.values())  # outside: untouched
    assert run_ingest(folder, store_uri, tiny_encoder, prune=True).pruned == 0


def test_jsonl_sidecar_keyed_by_relative_path(store_uri, tmp_path, tiny_encoder):
    folder = tmp_path / "images"
    (folder / "x").mkdir(parents=True)
    (folder / "y").mkdir()
    (folder / "x" / "same.jpg").write_bytes(encoded(photo(seed=1), "JPEG"))
    (folder / "y" / "same.jpg").write_bytes(encoded(photo(seed=2), "JPEG"))
    sidecar = tmp_path / "meta.jsonl"
    lines = [
        {"file": "same.jpg", "title": "any same.jpg"},
        {"file": "x/same.jpg", "title": "the one in x", "price": 12.5},
    ]
    sidecar.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    run_ingest(folder, store_uri, tiny_encoder, metadata=sidecar)
    metas = {row["path"].split("/")[-2]: row["meta"] for row in stored_rows(store_uri).values()}
    assert metas == {"x": {"title": "the one in x", "price": 12.5}, "y": {"title": "any same.jpg"}}


def test_cli_exit_codes_and_report(tmp_path, capsys):
    corpus = build_corpus(tmp_path / "corpus", tmp_path / "outside")
    target = ["--uri", str(tmp_path / "cli.db"), "--encoder", "tiny", "--weights", "untrained"]
    report_path = tmp_path / "out" / "report.json"
    code = cli_main(["ingest", str(corpus.root), *target, "--device", "cpu", "--report", str(report_path)])
    assert code == 0  # bad files do not make the job fail
    report = json.loads(report_path.read_text())
    assert report["ingested"] == len(corpus.good) + len(corpus.duplicates)
    assert len(report["failed"]) == len(corpus.bad)
    assert "failed" in capsys.readouterr().out
    assert cli_main(["ingest", str(tmp_path / "missing"), *target, "--device", "cpu"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_missing_folder_and_missing_sidecar_are_config_errors(tmp_path, tiny_encoder):
    with pytest.raises(ConfigError, match="does not exist"):
        ingest(tmp_path / "nope", encoder=tiny_encoder)
    with pytest.raises(ConfigError, match="Metadata file"):
        ingest(tmp_path, encoder=tiny_encoder, metadata=tmp_path / "nope.csv")


def test_a_file_rewritten_after_hashing_is_reported_not_stored_under_the_old_hash(tmp_path, tiny_encoder):
    path = tmp_path / "changing.jpg"
    path.write_bytes(encoded(photo(seed=1), "JPEG"))
    planned = content_id(path.read_bytes())
    path.write_bytes(encoded(photo(seed=2), "JPEG"))
    file = ImageFile(os.fsencode(path), str(path), "changing.jpg", path.stat().st_size)
    item = PrepareDataset([Task(file, planned)], tiny_encoder.preprocessing)[0]
    assert "changed while ingesting" in item["error"]


def test_package_level_ingest_is_callable(tmp_path, tiny_encoder):
    (tmp_path / "one.png").write_bytes(encoded(photo(seed=3), "PNG"))
    config = mmrag_lab.Config.load(env={}, milvus_uri=str(tmp_path / "pkg.db"), collection="c")
    report = mmrag_lab.ingest(
        tmp_path,
        config=config,
        encoder=tiny_encoder,
        progress=False,
        options=mmrag_lab.IngestOptions(workers=0),
    )
    assert report.ingested == 1
    with Store.open(config) as store:
        [hits] = store.search(np.ones((1, tiny_encoder.dim)), k=1)
    assert hits[0]["path"].endswith("one.png")


def cli_target(target) -> list[str]:
    options = {"uri": target.uri, "collection": target.collection, "encoder": "tiny", "weights": "untrained"}
    return [*(part for key, value in options.items() for part in (f"--{key}", value)), "--device", "cpu"]


def test_uint8_hand_over_gives_the_same_pixels_as_the_full_transform(sample_dir, tiny_encoder):
    from torchvision import transforms as T

    from mmrag_lab.images import load_image

    prep = tiny_encoder.preprocessing
    image = load_image(next(sample_dir.glob("*/*.jpg")))
    handed_over = prep.to_uint8(image)
    assert handed_over.dtype == torch.uint8
    assert torch.equal(prep.finish(handed_over.unsqueeze(0))[0], tiny_encoder.preprocess(image))
    # and it is EVA-CLIP's torchvision transform, bit for bit
    eva = T.Compose(
        [
            T.Resize(prep.size, interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(prep.size),
            T.ToTensor(),
            T.Normalize(prep.mean, prep.std),
        ]
    )
    assert torch.equal(eva(image), tiny_encoder.preprocess(image))


def test_writer_reports_bad_rows_and_counts_only_acknowledged_ones(tmp_path):
    from mmrag_lab.errors import StoreError
    from mmrag_lab.ingestion.writer import RowWriter

    config = mmrag_lab.Config.load(env={}, milvus_uri=str(tmp_path / "w.db"), collection="w")
    with Store.open(config) as store:
        store.ensure_collection(EncoderInfo("tiny", 4, True, "untrained", "x"))
    written = []
    writer = RowWriter(Store.open(config), on_written=written.append)
    good = {"path": "/x.jpg", "root": "r", "rel_path": "x.jpg", "content_hash": "b" * 64, "width": 1,
            "height": 1, "file_size": 1, "meta": {}}  # fmt: skip
    writer.put([{"id": "b" * 64, "vector": [0.0, 1.0, 0.0, 0.0], **good}])
    writer.put([{"id": "a" * 64, "vector": [1.0, 0.0, 0.0, 0.0], "path": "/x.jpg"}])  # incomplete row
    with pytest.raises(StoreError, match="lacks field"):
        writer.close()
    assert written == [1]
    with Store.open(config) as store:
        assert store.count() == 1
