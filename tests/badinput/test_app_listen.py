"""``mmrag app`` started, as a user would, on an address it cannot listen on: an unresolvable or foreign host,
an empty one, a port out of range or one another program holds. Each ends in exit 2 and one message naming
the option, before the page's address is announced and before Voilà starts; no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_inputs import TRACEBACK, assert_refused

REPO = Path(__file__).resolve().parents[2]


def _app(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "MMRAG_LOG_DIR": str(tmp_path / "logs"),
    }
    done = subprocess.run([sys.executable, "-m", "mmrag_lab.cli", "app", "--uri", str(tmp_path / "a.db"),
                           "--encoder", "tiny", "--weights", "untrained", "--device", "cpu", *argv],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [(["--host", "junk host"], ["--host 'junk host'", "this machine can resolve"]),
     (["--host", "999.1.1.1"], ["--host '999.1.1.1'", "this machine can resolve"]),
     (["--host", ""], ["--host is empty", "0.0.0.0"]),
     (["--host", "   "], ["--host is empty"]),
     (["--host", "192.0.2.1"], ["--host '192.0.2.1' is not an address of this machine"]),  # TEST-NET-1
     (["--port", "-1"], ["--port must be a whole number from 1 to 65,535, got -1"]),
     (["--port", "0"], ["--port must be a whole number from 1 to 65,535, got 0"]),
     (["--port", "70000"], ["--port must be a whole number from 1 to 65,535, got 70000"]),
     (["--port", "65536"], ["--port", "65536"])],
)  # fmt: skip
@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_an_address_it_cannot_listen_on_is_refused_before_it_is_announced(tmp_path, argv, fragments):
    code, out, err = _app(tmp_path, *argv)
    assert_refused(code, out + err, fragments)
    assert "http://" not in out, "nothing is announced for an address the app cannot listen on"
    assert "This is a bug" not in err and not (tmp_path / "logs").exists()


@pytest.mark.slow  # starts the CLI or a server in a subprocess
def test_a_busy_port_is_refused_and_not_announced(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, out, err = _app(tmp_path, "--port", str(port))
        holder.getsockname()  # still ours: the app took nothing
    assert_refused(code, out + err, [f"--port {port}: another program already listens on 127.0.0.1:{port}"])
    assert f"http://127.0.0.1:{port}/" not in out and TRACEBACK not in err
