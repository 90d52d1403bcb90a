"""The Ray engine on a real local Ray (2 CPUs, the tiny preset): the same rows and report as the in-process
engine, into Milvus Lite and the real 2.3.5 server; a re-run writes nothing; edits, renames and deletes are
mirrored; an encoder actor killed mid-run leaves the rows exact; two actors (two GPUs' stand-ins) equal one
run; and the CLI with ``--engine ray``.

One local Ray serves the module (its start costs seconds); the CLI test starts its own, as a user's would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid

import numpy as np
import pytest
from test_ingest_resume import ingest_command, make_photos

from mmrag_lab.config import Config
from mmrag_lab.ingestion import ray_engine
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.ingestion.ray_session import RayOptions, ray_for_job
from mmrag_lab.store.vector_store import Store

pytest.importorskip("ray", reason="the Ray engine's tests need Ray: pip install -e '.[ray]'")
psutil = pytest.importorskip("psutil")
pytestmark = pytest.mark.slow

FIELDS = ("path", "rel_path", "content_hash", "width", "height", "file_size", "meta", "vector")
COUNTS = ("seen", "added", "reencoded", "renamed", "updated", "unchanged", "encoded", "copied", "ingested")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray with 2 CPUs for the module; every ingest here runs on it."""
    with ray_for_job(RayOptions(cpus=2)):
        yield


def photo_folder(folder, count: int) -> None:
    """``count`` photos, a corrupt JPEG, a second name for one photo's bytes, and a metadata sidecar."""
    make_photos(folder, count)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "copies").mkdir()
    (folder / "copies" / "twin.jpg").write_bytes((folder / "part0" / "img_0000.jpg").read_bytes())


def run(folder, config: Config, engine: str, **options):
    kwargs = dict(options=IngestOptions(workers=0), progress=False, engine=engine, **options)
    if engine == "ray":
        kwargs.setdefault("ray_options", RayOptions(actors=2, writers=2))
    return ingest(folder, config=config, **kwargs)


def stored(config: Config) -> dict[str, dict]:
    with Store.open(config) as store:
        store.flush_and_load()
        listed = list(store.iterate(FIELDS))
    rows = {row["id"]: row for row in listed}
    assert len(rows) == len(listed), "a row id is stored twice"
    return rows


def assert_same_rows(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, row in want.items():
        assert {f: got[key][f] for f in FIELDS[:-1]} == {f: row[f] for f in FIELDS[:-1]}, key
        np.testing.assert_allclose(got[key]["vector"], row["vector"], atol=1e-4)


STEPS = ("imported", "constructing", "built", "model_ready", "first_batch_in", "first_batch_done")


def assert_start_up_recorded(last_run: dict, actors: int) -> None:
    """Each busy encoder actor's start-up steps, in order, within the job (where the first seconds went)."""
    startups = last_run["actor_startup_s"]
    assert 1 <= len(startups) <= actors == last_run["actors"]
    for steps in startups:
        assert tuple(steps) == STEPS
        times = [steps[key] for key in STEPS[1:]]  # "imported" may precede the job: a reused worker
        assert times == sorted(times) and times[0] >= 0
    assert 0 <= last_run["execution_start_s"] <= last_run["first_write_s"]


def counts(report) -> dict:
    return {name: getattr(report, name) for name in COUNTS} | {
        "failed": sorted(item["path"] for item in report.failed),
        # which of two identical files is encoded may differ (the first to reach an encoder)
        "duplicates": sorted(
            {i["path"] for i in report.duplicates} | {i["same_as"] for i in report.duplicates}
        ),
    }


def test_the_ray_engine_writes_the_rows_and_report_of_the_in_process_engine(local_ray, store_uri, tmp_path):
    folder = tmp_path / "photos"
    photo_folder(folder, 30)
    local = store_uri.config(batch_size=4, collection=store_uri.collection + "_local")
    on_ray = store_uri.config(batch_size=4)
    want, got = run(folder, local, "local"), run(folder, on_ray, "ray")
    assert_start_up_recorded(ray_engine.last_run, actors=2)
    assert counts(got) == counts(want)
    assert got.ingested == 31 and got.encoded == 30 and got.copied == 1
    assert [item["path"] for item in got.failed] == [str(folder / "broken.jpg")]
    assert_same_rows(stored(on_ray), stored(local))

    again = run(folder, on_ray, "ray")  # nothing changed: nothing is encoded or written
    assert (again.ingested, again.encoded, again.updated, again.unchanged) == (0, 0, 0, 31)

    (folder / "part1" / "img_0001.jpg").rename(folder / "part1" / "moved.jpg")
    (folder / "part2" / "img_0002.jpg").unlink()
    make_photos(tmp_path / "other", 31)  # photo 30 of another run: new bytes for an old name
    (folder / "part3" / "img_0003.jpg").write_bytes(
        (tmp_path / "other" / "part2" / "img_0030.jpg").read_bytes()
    )
    want, got = run(folder, local, "local", prune=True), run(folder, on_ray, "ray", prune=True)
    assert counts(got) == counts(want)
    assert (got.renamed, got.reencoded, got.pruned) == (1, 1, 2)  # the old name of the renamed one too
    assert_same_rows(stored(on_ray), stored(local))
    if store_uri.kind == "server":
        with Store.open(local) as store:
            store.drop()


def test_an_encoder_actor_killed_mid_run_leaves_the_rows_exact(local_ray, tmp_path):
    folder = tmp_path / "photos"
    make_photos(folder, 160)
    config = Config.load(
        env={}, milvus_uri=str(tmp_path / "kill.db"), collection="kill", encoder="tiny",
        weights="untrained", device="cpu", batch_size=4,
    )  # fmt: skip
    result: dict = {}

    def job() -> None:
        try:
            result["report"] = run(folder, config, "ray", ray_options=RayOptions(actors=1, writers=1))
        except BaseException as exc:  # raised in the test below
            result["error"] = exc

    thread = threading.Thread(target=job)
    thread.start()
    killed = kill_encoder_once_rows_are_stored(config, thread)
    thread.join(timeout=600)
    assert "error" not in result, result.get("error")
    assert killed, "the job ended before an encoder actor could be killed"
    report = result["report"]
    assert (report.ingested, report.written_by_others, report.failed) == (160, 0, [])
    rows = stored(config)
    assert len(rows) == 160
    reference = config.with_overrides(collection="reference")
    run(folder, reference, "local")
    assert_same_rows(rows, stored(reference))


def kill_encoder_once_rows_are_stored(config: Config, job: threading.Thread) -> int | None:
    """SIGKILL the encoder actor's process once the store holds some of the job's rows; its pid."""
    while job.is_alive():
        actors = [
            p for p in psutil.process_iter(["cmdline"]) if "EncodeActor" in " ".join(p.info["cmdline"] or [])
        ]
        if actors and _count(config) > 0:
            os.kill(actors[0].pid, signal.SIGKILL)
            return actors[0].pid
        time.sleep(0.05)
    return None


def _count(config: Config) -> int:
    try:
        with Store.open(config) as store:
            return store.count()
    except Exception:  # the collection is not made yet
        return 0


def test_the_cli_ingests_with_the_ray_engine(tmp_path):
    folder = tmp_path / "photos"
    make_photos(folder, 12)
    target = type("Target", (), {"uri": str(tmp_path / "cli.db"), "collection": f"c_{uuid.uuid4().hex[:8]}"})
    command = ingest_command(folder, target) + ["--engine", "ray", "--ray-cpus", "2", "--report", "r.json"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12 ingested" in done.stdout and "ingest: 100%" in done.stderr
    config = Config.load(env={}, milvus_uri=target.uri, collection=target.collection, encoder="tiny")
    assert len(stored(config)) == 12
