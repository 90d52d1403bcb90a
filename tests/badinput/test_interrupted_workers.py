"""A real ``mmrag ingest`` with CPU decode workers, killed mid-run with SIGKILL or SIGTERM: no worker outlives
it, and nothing is printed after it died (no ``ConnectionResetError`` traceback from an orphan).

Torch's own watchdog ends an orphaned worker within seconds, if the worker runs. So one test stops the
workers (SIGSTOP) before it kills the parent: only the kernel's parent-death signal can end them then, and
a worker that survives keeps the test's stderr pipe open, which the test reports after a generous wait.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest
from badimages import encoded, photo

IMAGES = 160
HANG_GUARD_S = 120  # only for a failing run: a worker that survives holds the pipe open for ever


def make_photos(folder) -> None:
    folder.mkdir()
    for i in range(IMAGES):
        (folder / f"{i:04d}.jpg").write_bytes(encoded(photo(320, 240, seed=i), "JPEG"))


def workers_of(pid: int) -> list[int]:
    """Child processes of ``pid`` running the same command line (the forked decode workers)."""
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        command = handle.read()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                same = handle.read() == command
        except OSError:
            continue
        if parent == pid and same:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone(pids: list[int]) -> list[int]:
    """The pids still alive once each has had a moment to finish dying (a process closes its files, and so
    the pipe, a little before the kernel marks it dead); empty when all are gone."""
    deadline = time.monotonic() + HANG_GUARD_S
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def read_until_closed(stream) -> tuple[bytes, bool]:
    """What is written to ``stream`` until every writer has closed it; False if one still holds it."""
    seen, deadline = b"", time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 1.0)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return seen, True
            seen += chunk
    return seen, False


@pytest.mark.slow
@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("stop_workers", [False, True], ids=["running", "stopped"])
def test_decode_workers_die_with_a_killed_ingest_and_print_nothing(tmp_path, kill, stop_workers):
    folder = tmp_path / "photos"
    make_photos(folder)
    command = [sys.executable, "-m", "mmrag_lab.cli", "ingest", str(folder), "--uri", str(tmp_path / "lite.db"),
               "--collection", "killed", "--encoder", "tiny", "--weights", "untrained", "--device", "cpu",
               "--cpu-decode", "--workers", "2", "--batch-size", "4"]  # fmt: skip
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    workers: list[int] = []
    try:
        before = b""
        while b"stored=" not in before or len(workers) < 2:  # encoding, with both workers at work
            ready, _, _ = select.select([process.stderr], [], [], 1.0)
            chunk = os.read(process.stderr.fileno(), 65536) if ready else b""
            assert chunk or not ready, f"ingest ended before it was killed: {before[-2000:]!r}"
            before += chunk
            workers = workers_of(process.pid) if b"stored=" in before else []
        for worker in workers if stop_workers else []:
            os.kill(worker, signal.SIGSTOP)
        process.send_signal(kill)
        process.wait(timeout=60)
        after, closed = read_until_closed(process.stderr)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for worker in workers:  # a failing run must not leave them behind
            if alive(worker):
                os.kill(worker, signal.SIGKILL)
    assert closed, f"decode workers outlived the killed ingest: {[w for w in workers if alive(w)]}"
    assert gone(workers) == [], "decode workers outlived the killed ingest"
    assert after == b"", f"printed after the ingest was killed: {after.decode(errors='replace')[-3000:]}"
