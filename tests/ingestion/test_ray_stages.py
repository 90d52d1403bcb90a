"""The Ray engine's stages without Ray: the read stage on real files (a bad file travels with its reason,
a good one with the CPU mapper's own pixels), and the job's ledger answering a retried batch as it answered
the first run."""

from __future__ import annotations

import pickle

import numpy as np
from badimages import encoded, photo

from mmrag_lab.ingestion.cpu_mapper import PrepareDataset
from mmrag_lab.ingestion.plan import partial_row
from mmrag_lab.ingestion.ray_stages import RunLedger, read_decode
from mmrag_lab.ingestion.reader import Task
from mmrag_lab.ingestion.scan import scan_images
from mmrag_lab.ingestion.sidecar import load_sidecar


def tasks_of(folder) -> list[Task]:
    sidecar = load_sidecar(None)
    files = scan_images(folder).files
    return [Task(f, None, (partial_row("root", f, None, sidecar.lookup(f.rel)),)) for f in files]


def test_the_read_stage_decodes_like_the_cpu_mapper_and_passes_a_bad_file_on(tmp_path, tiny_encoder):
    (tmp_path / "a.jpg").write_bytes(encoded(photo(120, 90, seed=1), "JPEG", quality=90))
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    tasks = tasks_of(tmp_path)
    prep = tiny_encoder.preprocessing
    batch = {"task": np.array([pickle.dumps(t) for t in tasks], dtype=object)}
    out = read_decode(batch, prep, None, gpu_decode=False)
    settled = [pickle.loads(blob) for blob in out["task"]]
    assert [t.file.rel for t in settled] == ["a.jpg", "b.jpg"]
    assert out["error"][0] == "" and out["error"][1]
    want = PrepareDataset(tasks, prep)[0]
    np.testing.assert_array_equal(out["pixels"][0], want["pixels"].numpy())
    assert (out["width"][0], out["height"][0]) == (120, 90)
    assert settled[0].id == want["id"] and settled[0].rows[0]["content_hash"] == want["id"]
    assert settled[1].id is None  # never read whole: no hash is made up for it

    raw = read_decode(batch, prep, None, gpu_decode=True)  # bytes only, for the GPU actor to decode
    assert raw["pixels"].shape == (2, 0) and raw["data"][0] == (tmp_path / "a.jpg").read_bytes()


def test_the_ledger_answers_a_retried_batch_as_it_answered_the_first_run():
    ledger = RunLedger()
    first = ledger.claim([("h1", "id1", "a.jpg"), ("h2", "id2", "b.jpg"), ("h1", "id3", "c.jpg")])
    assert first == [("id1", "a.jpg"), ("id2", "b.jpg"), ("id1", "a.jpg")]
    assert ledger.claim([("h1", "id1", "a.jpg"), ("h1", "id3", "c.jpg")]) == [first[0], first[2]]
    assert ledger.attempted(["id1", "id2"]) == []
    assert ledger.attempted(["id2", "id4"]) == ["id2"]  # id2's batch ran again: its rows are this run's


def test_the_ledger_keeps_each_actors_start_up_in_the_order_recorded():
    ledger = RunLedger()
    assert ledger.startup_times() == []
    ledger.started({"constructing": 1.0, "first_batch_done": 3.5})
    ledger.started({"constructing": 1.2, "first_batch_done": 4.0})
    got = ledger.startup_times()
    assert got == [
        {"constructing": 1.0, "first_batch_done": 3.5},
        {"constructing": 1.2, "first_batch_done": 4.0},
    ]
    got.clear()  # a copy: the caller cannot change the record
    assert len(ledger.startup_times()) == 2
