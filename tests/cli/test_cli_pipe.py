"""The CLI's output closed by its reader (``mmrag encoders | head -0``): a quiet stop, never a logged bug."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_reader_that_closes_the_output_ends_the_command_quietly(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written: every write meets a broken pipe
    env = {**os.environ, "MMRAG_LOG_DIR": str(tmp_path / "logs")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mmrag_lab.cli", "encoders"],
            stdout=write_end, stderr=subprocess.PIPE, env=env, timeout=300,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr.decode(errors="replace")
    assert done.stderr == b""
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").iterdir())
