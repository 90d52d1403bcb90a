"""Entries the scan cannot read never stop an ingest: each is named in the report, and the batch goes on.

The tests run as root, and root reads everything: a ``chmod 000`` folder, another user's ``/proc/PID/cwd``.
So the real ``mmrag ingest`` runs as root *without* the capabilities that bypass those checks
(``setpriv --bounding-set -dac_override,-dac_read_search,-sys_ptrace,-sys_admin``), as root in a default
container does for ``/proc``. A user who is not root meets the same conditions without setpriv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from badimages import encoded, photo

DROPPED = "-dac_override,-dac_read_search,-sys_ptrace,-sys_admin"


def unprivileged(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("needs util-linux's setpriv to run a command as root without DAC/ptrace capabilities")
    return ["setpriv", "--bounding-set", DROPPED, *command]


@pytest.fixture()
def stranger():
    """The pid of a process of another user: its ``cwd`` link may not be read (``readlink`` is denied)."""
    if os.geteuid() != 0:
        if os.stat("/proc/1").st_uid == os.geteuid():
            pytest.skip("no process of another user to point a link at")
        yield 1
        return
    if shutil.which("setpriv") is None:
        pytest.skip("needs util-linux's setpriv")
    process = subprocess.Popen(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "sleep", "600"]
    )
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def ingest_unprivileged(folder, target, tmp_path) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "mmrag_lab.cli", "ingest", str(folder), "--uri", target.uri,
               "--collection", target.collection, "--encoder", "tiny", "--weights", "untrained",
               "--device", "cpu", "--no-progress", "--workers", "0", "--report", str(report)]  # fmt: skip
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(unprivileged(command), capture_output=True, text=True, env=env, timeout=600)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(report.read_text())


@pytest.mark.slow
def test_unreadable_links_and_folders_are_reported_and_the_rest_is_ingested(store_uri, tmp_path, stranger):
    folder = tmp_path / "photos"
    (folder / "locked").mkdir(parents=True)
    for name, seed in (("a.jpg", 1), ("b.jpg", 2), ("locked/hidden.jpg", 3)):
        (folder / name).write_bytes(encoded(photo(seed=seed), "JPEG"))
    links = {
        "denied.jpg": f"/proc/{stranger}/cwd/x.jpg",  # readlink of another user's cwd is denied
        "denied_dir": f"/proc/{stranger}/cwd",
        "through_locked.jpg": "locked/hidden.jpg",  # inside the folder, through a folder that may not be entered
        "loop.jpg": "loop.jpg",
        "under_a_file.jpg": "a.jpg/x.jpg",
    }
    for name, target in links.items():
        (folder / name).symlink_to(target)
    (folder / "locked").chmod(0)
    try:
        done, report = ingest_unprivileged(folder, store_uri, tmp_path)
    finally:
        (folder / "locked").chmod(0o755)
    assert report["ingested"] == 2 and report["added"] == 2
    reasons = {os.path.basename(item["path"]): item["reason"] for item in report["failed"]}
    may_not = "symlink cannot be followed: a folder or link on its way may not be read (Permission denied)"
    assert reasons == {
        "denied.jpg": may_not,
        "denied_dir": may_not,
        "through_locked.jpg": may_not,
        "locked": "cannot list folder (Permission denied)",
        "loop.jpg": "symlink cannot be followed: it loops back on itself",
        "under_a_file.jpg": "dangling symlink: its target does not exist",
    }
    assert "6 failed" in done.stdout and "denied.jpg: symlink cannot be followed" in done.stdout


@pytest.mark.slow
def test_a_system_folder_full_of_denied_links_is_scanned_to_the_end(store_uri, tmp_path, stranger):
    done, report = ingest_unprivileged(f"/proc/{stranger}", store_uri, tmp_path)
    reasons = {item["path"].rsplit("/", 1)[-1]: item["reason"] for item in report["failed"]}
    assert reasons["cwd"].startswith(
        "symlink cannot be followed: a folder or link on its way may not be read"
    )
    assert reasons["fd"] == "cannot list folder (Permission denied)"
    assert report["ingested"] == 0 and "0 ingested" in done.stdout
