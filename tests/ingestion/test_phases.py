"""Ingest's data flows one way: the plan is frozen once made, one store serves a whole ingest, and the report
is made once from the values the phases return. Real JPEGs, the tiny preset on the CPU, real Milvus Lite."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest
from badimages import encoded, photo

from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.phases import Copied, Encoded, Scanned, Updated, Written
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.ingestion.plan import Plan, plan_ingest
from mmrag_lab.ingestion.reader import Task
from mmrag_lab.ingestion.report import IngestReport, ReportHeader
from mmrag_lab.ingestion.scan import ScanResult, scan_images
from mmrag_lab.ingestion.sidecar import load_sidecar
from mmrag_lab.store.vector_store import Store

INLINE = IngestOptions(workers=0)


def write_photos(folder, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"img_{i:02d}.jpg").write_bytes(encoded(photo(64, 48, seed=i), "JPEG"))


@pytest.fixture
def opens(monkeypatch) -> list[str]:
    """The collection of every Store.open call (the real one runs)."""
    calls: list[str] = []
    real = Store.open

    def counting(cls, *args, **kwargs):
        store = real(*args, **kwargs)
        calls.append(store.collection)
        return store

    monkeypatch.setattr(Store, "open", classmethod(counting))
    return calls


def test_one_ingest_opens_the_store_once(tmp_path, tiny_encoder, opens):
    folder = tmp_path / "photos"
    write_photos(folder, 5)
    (folder / "twin.jpg").write_bytes((folder / "img_00.jpg").read_bytes())  # a first ingest's twin: a copy
    config = Config.load(env={}, milvus_uri=str(tmp_path / "once.db"), collection="once")
    first = ingest(folder, config=config, encoder=tiny_encoder, progress=False, options=INLINE)
    assert (first.added, first.encoded, first.copied, len(first.duplicates)) == (6, 5, 1, 1)
    assert opens == ["once"]
    (folder / "img_01.jpg").unlink()
    (folder / "img_02.jpg").rename(folder / "moved.jpg")
    again = ingest(folder, config=config, encoder=tiny_encoder, progress=False, prune=True, options=INLINE)
    assert (again.renamed, again.pruned, again.unchanged) == (1, 2, 4)  # img_02's old row pruned too
    assert opens == ["once", "once"]


def test_the_plan_is_frozen(tmp_path, tiny_encoder):
    folder = tmp_path / "photos"
    write_photos(folder, 3)
    config = Config.load(env={}, milvus_uri=str(tmp_path / "frozen.db"), collection="frozen")
    ingest(folder, config=config, encoder=tiny_encoder, progress=False, options=INLINE)
    (folder / "img_00.jpg").write_bytes(encoded(photo(64, 48, seed=9), "JPEG"))
    with Store.open(config) as store:
        root = store.register_root(str(folder.resolve()))
        plan = plan_ingest(scan_images(folder), store, root, load_sidecar(None))
    assert plan.hashed and [dict(plan.kinds)] == [{plan.tasks[0].rows[0]["id"]: "reencoded"}]
    assert isinstance(plan.tasks, tuple) and isinstance(plan.stale, tuple) and plan.unchanged == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.copies = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.kinds["x"] = "added"  # type: ignore[index]


def test_the_report_counts_rows_another_process_stored_first_as_unchanged():
    """Assembled from hand-made phase values: two rows encoded, one of them stored first by another
    process; one row copied whose twin vanished; one file the scan could not read."""
    rows = [{"id": f"r{i}", "path": f"/p/{i}.jpg"} for i in range(4)]
    scan = ScanResult("/p", files=[None] * 3, problems=[{"path": "/p/bad.jpg", "reason": "unreadable"}])
    plan = Plan(
        "p",
        tasks=(Task(None, "h0", (rows[0],)), Task(None, "h1", (rows[1],))),
        copies=((rows[2], "old"),),
        kinds=MappingProxyType({"r0": "added", "r1": "reencoded", "r2": "renamed"}),
        unchanged=1,
    )
    written = Written(
        copies=(Copied(0, ({"path": "/p/2.jpg", "reason": "vanished"},)),),
        updated=Updated(1, 1),
        encoded=Encoded(encoded=2, written=2, already=frozenset({"r1"})),
    )
    header = ReportHeader("/p", "c", "lite.db", "tiny", True)
    report = IngestReport.assemble(header, Scanned(scan, "p"), plan, written, 2.0, {"encode": 1.5})
    assert (report.seen, report.added, report.reencoded, report.renamed) == (4, 1, 0, 0)
    assert (report.written_by_others, report.unchanged, report.ingested, report.copied) == (1, 2, 1, 0)
    assert (report.updated, report.metadata_updated, report.encoded) == (1, 1, 2)
    assert [item["path"] for item in report.failed] == ["/p/bad.jpg", "/p/2.jpg"]
    assert report.images_per_s == 0.5 and report.phases_s == {"encode": 1.5} and report.root == "p"
