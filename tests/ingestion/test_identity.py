"""Rows follow the folder, on real Milvus Lite and the real Milvus 2.3.5 server, with real JPEGs.

One photo rotated and re-saved, one renamed, one copied under a second name, one deleted, the sidecar's
category changed for one row and its numeric ``year`` for another; then ``mmrag ingest --prune``.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from PIL import Image

from mmrag_lab.cli import main as cli_main
from mmrag_lab.evaluation import EvalProtocol, evaluate
from mmrag_lab.evaluation.inputs.querysets import Query
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store

INLINE = IngestOptions(workers=0)  # decode in this process, no worker processes


def cli_target(target) -> list[str]:
    options = {"uri": target.uri, "collection": target.collection, "encoder": "tiny", "weights": "untrained"}
    return [*(part for key, value in options.items() for part in (f"--{key}", value)), "--device", "cpu"]


def write_sidecar(path, rows: dict[str, dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "category", "year"])
        writer.writeheader()
        writer.writerows({"file": name, **meta} for name, meta in sorted(rows.items()))


def all_rows(target) -> dict[str, dict]:
    fields = ("path", "rel_path", "content_hash", "width", "height", "meta")
    with Store.open(target.config()) as store:
        rows = list(store.iterate(fields))
        assert store.count() == len(rows)
    return {row["rel_path"]: row for row in rows}


@pytest.fixture()
def edited(store_uri, tmp_path, sample_dir, tiny_encoder):
    """The sample ingested with a typed sidecar, then edited on disk and in the sidecar."""
    folder = tmp_path / "photos"
    shutil.copytree(sample_dir, folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
    meta = {name.split("/")[1]: {"category": name.split("/")[0], "year": "2020"} for name in files}
    sidecar = tmp_path / "meta.csv"
    write_sidecar(sidecar, meta)
    first = ingest(folder, config=store_uri.config(), encoder=tiny_encoder, metadata=sidecar, options=INLINE,
                   progress=False)  # fmt: skip
    assert (first.added, first.encoded, first.ingested) == (40, 40, 40)

    rotated, renamed, copied, deleted, recategorised, redated = files[:6]
    with Image.open(folder / rotated) as image:
        size = image.size
        image.rotate(90, expand=True).save(folder / rotated, quality=90)
    new_name = renamed.replace(".jpg", "_renamed.jpg")
    (folder / renamed).rename(folder / new_name)
    copy_name = copied.replace(".jpg", "_copy.jpg")
    shutil.copyfile(folder / copied, folder / copy_name)
    (folder / deleted).unlink()
    leaf = lambda name: name.split("/")[1]  # noqa: E731
    meta[leaf(new_name)] = meta.pop(leaf(renamed))
    meta[leaf(copy_name)] = dict(meta[leaf(copied)])
    meta[leaf(recategorised)]["category"] = "costume"
    meta[leaf(redated)]["year"] = "2021"
    write_sidecar(sidecar, meta)
    names = dict(rotated=rotated, renamed=new_name, copied=copied, copy=copy_name, deleted=deleted,
                 recategorised=recategorised, redated=redated)  # fmt: skip
    return store_uri, folder, sidecar, names, size


def test_ingest_prune_brings_rows_in_line_with_the_folder(edited, tmp_path, capsys, tiny_encoder):
    target, folder, sidecar, names, old_size = edited
    report_path = tmp_path / "report.json"
    args = ["ingest", str(folder), *cli_target(target), "--metadata", str(sidecar), "--prune"]
    assert cli_main([*args, "--no-progress", "--workers", "0", "--report", str(report_path)]) == 0
    assert "1 re-encoded, 1 renamed" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    counts = {key: report[key] for key in ("added", "reencoded", "renamed", "updated", "pruned", "encoded")}
    assert counts == {"added": 1, "reencoded": 1, "renamed": 1, "updated": 2, "pruned": 2, "encoded": 1}
    assert report["copied"] == 2 and report["unchanged"] == 35 and report["failed"] == []

    rows = all_rows(target)
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
    assert sorted(rows) == on_disk  # exactly one row per file
    rotated = rows[names["rotated"]]
    assert (rotated["width"], rotated["height"]) == (old_size[1], old_size[0])
    assert rows[names["copy"]]["content_hash"] == rows[names["copied"]]["content_hash"]
    assert rows[names["recategorised"]]["meta"] == {"category": "costume", "year": 2020}
    assert rows[names["redated"]]["meta"]["year"] == 2021
    assert all(isinstance(row["meta"]["year"], int) for row in rows.values())
    with Store.open(target.config()) as store:
        assert store.describe()["metadata_types"] == {"category": "text", "year": "int"}

    code = cli_main(["search", "--text", "a garment", "-k", "50", "--where", "year=2021", "--json",
                     "--out", str(tmp_path / "out"), "--uri", target.uri, "--collection", target.collection,
                     "--device", "cpu"])  # fmt: skip
    assert code == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert [hit["path"].removeprefix(f"{folder}/") for hit in hits] == [names["redated"]]
    assert hits[0]["meta"]["year"] == 2021
    search = ["search", "--text", "x", "--uri", target.uri, "--collection", target.collection, "--device", "cpu",
              "--out", str(tmp_path / "out")]  # fmt: skip
    assert cli_main([*search, "--where", "year=twenty"]) == 2
    assert "'year' holds int values; 'twenty' is not an int" in capsys.readouterr().err
    assert cli_main(["info", "--uri", target.uri, "--collection", target.collection]) == 0
    info = capsys.readouterr().out
    assert "category (text), year (int)" in info and f"photos = {folder}" in info

    again = ingest(folder, config=target.config(), encoder=tiny_encoder, metadata=sidecar, options=INLINE,
                   prune=True, progress=False)  # fmt: skip
    assert (again.ingested, again.encoded, again.updated, again.pruned, again.unchanged) == (0, 0, 0, 0, 40)


def test_both_duplicate_names_resolve_and_are_scored(edited, tiny_encoder):
    target, folder, sidecar, names, _ = edited
    ingest(
        folder, config=target.config(), encoder=tiny_encoder, metadata=sidecar, options=INLINE, progress=False
    )
    other = str(folder / names["redated"])
    queries = [
        Query("to-original", other, "the same", (names["copied"].split("/")[1],)),
        Query("to-copy", other, "the same", (names["copy"].split("/")[1],)),
        Query("from-copy", str(folder / names["copy"]), "the same", (names["redated"].split("/")[1],)),
    ]
    run = evaluate(queries, config=target.config(), encoder=tiny_encoder,
                   protocol=EvalProtocol(ks=(1, 50), map_ks=(5,), subset_ks=()))  # fmt: skip
    retrieval = run.metrics["retrieval"]
    assert retrieval["n_evaluated"] == 3 and retrieval["missing"]["skipped_queries"] == []
    assert retrieval["overall"]["recall@50"] == 1.0  # 40 rows: every target is in the top 50


def test_the_query_image_is_left_out_of_its_own_results(edited, tiny_encoder):
    import mmrag_lab

    target, folder, sidecar, names, _ = edited
    ingest(
        folder, config=target.config(), encoder=tiny_encoder, metadata=sidecar, options=INLINE, progress=False
    )
    cfg = target.config()
    query = folder / names["copied"]  # stored twice: under its own name and as the copy
    hits = mmrag_lab.search(query, k=5, config=cfg, encoder=tiny_encoder)
    assert len(hits) == 5
    assert not {names["copied"], names["copy"]} & {h.path.removeprefix(f"{folder}/") for h in hits}
    kept = mmrag_lab.search(query, k=5, config=cfg, encoder=tiny_encoder, exclude_query=False)
    assert {kept[0].path, kept[1].path} == {str(folder / names["copied"]), str(folder / names["copy"])}
    composed = mmrag_lab.search(query, "in red", k=3, config=cfg, encoder=tiny_encoder)
    assert str(query) not in composed.paths and len(composed) == 3
    assert len(mmrag_lab.search(text="a dress", k=40, config=cfg, encoder=tiny_encoder)) == 40


def test_a_moved_folder_keeps_its_rows_and_vectors(store_uri, tmp_path, sample_dir, tiny_encoder):
    folder = tmp_path / "first" / "photos"
    shutil.copytree(sample_dir / "dress", folder)
    ingest(folder, config=store_uri.config(), encoder=tiny_encoder, options=INLINE, progress=False)
    before = {row["rel_path"]: row["content_hash"] for row in all_rows(store_uri).values()}
    moved = tmp_path / "second" / "photos"
    moved.parent.mkdir()
    folder.rename(moved)
    report = ingest(moved, config=store_uri.config(), encoder=tiny_encoder, options=INLINE, prune=True,
                    progress=False)  # fmt: skip
    assert (report.encoded, report.ingested, report.updated, report.pruned) == (0, 0, len(before), 0)
    rows = all_rows(store_uri)
    assert {rel: row["content_hash"] for rel, row in rows.items()} == before
    assert all(row["path"].startswith(f"{moved}/") for row in rows.values())


def test_without_a_sidecar_metadata_is_kept_and_moves_with_a_renamed_file(store_uri, tmp_path, sample_dir,
                                                                           tiny_encoder):  # fmt: skip
    folder = tmp_path / "few"
    folder.mkdir()
    for path in sorted(sample_dir.rglob("*.jpg"))[:3]:
        shutil.copyfile(path, folder / path.name)
    names = sorted(p.name for p in folder.iterdir())
    sidecar = tmp_path / "meta.csv"
    write_sidecar(sidecar, {name: {"category": f"c{i}", "year": "2020"} for i, name in enumerate(names)})
    ingest(
        folder,
        config=store_uri.config(),
        encoder=tiny_encoder,
        metadata=sidecar,
        options=INLINE,
        progress=False,
    )
    (folder / names[0]).rename(folder / "renamed.jpg")
    report = ingest(folder, config=store_uri.config(), encoder=tiny_encoder, options=INLINE, prune=True,
                    progress=False)  # fmt: skip
    assert (report.renamed, report.encoded, report.updated, report.unchanged, report.pruned) == (
        1,
        0,
        0,
        2,
        1,
    )
    metas = {rel: row["meta"] for rel, row in all_rows(store_uri).items()}
    assert metas == {"renamed.jpg": {"category": "c0", "year": 2020}, names[1]: {"category": "c1", "year": 2020},
                     names[2]: {"category": "c2", "year": 2020}}  # fmt: skip


def test_bytes_stored_for_another_folder_are_copied_and_a_folder_alone_never_asks_for_them(
    store_uri, tmp_path, sample_dir, tiny_encoder, monkeypatch
):
    asked: list[int] = []
    real = Store.rows_with_hashes

    def spy(self, hashes, *args, **kwargs):
        hashes = set(hashes)
        asked.append(len(hashes))
        return real(self, hashes, *args, **kwargs)

    monkeypatch.setattr(Store, "rows_with_hashes", spy)
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(sample_dir / "dress", first)
    shutil.copytree(sample_dir / "dress", second)
    count = len(list(first.glob("*.jpg")))
    ingest(first, config=store_uri.config(), encoder=tiny_encoder, options=INLINE, progress=False)
    assert asked == []  # the collection held no other folder: nothing to look up elsewhere
    report = ingest(second, config=store_uri.config(), encoder=tiny_encoder, options=INLINE, progress=False)
    assert asked == [count]
    assert (report.encoded, report.copied, report.added) == (0, count, count)
    with Store.open(store_uri.config()) as store:
        rows = list(store.iterate(("root", "rel_path", "content_hash")))
    assert len(rows) == 2 * count and len({row["root"] for row in rows}) == 2
    by_root: dict[str, dict] = {}
    for row in rows:
        by_root.setdefault(row["root"], {})[row["rel_path"]] = row["content_hash"]
    assert len(set(map(frozenset, (d.items() for d in by_root.values())))) == 1  # the same bytes twice
