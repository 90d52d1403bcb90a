"""Start ``mmrag app`` (Voilà) as a user would, on a free port, for the browser tests and the benchmark.

No pytest in here. ``AppServer`` runs ``python -m mmrag_lab.cli app --port P ARGS`` from the current
interpreter, with the repository first on ``PYTHONPATH`` (so that Voilà's kernels import this checkout),
waits until the port answers, and on exit stops the server's process group (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def collection_args(uri: str | Path, collection: str) -> list[str]:
    """The options that point the app at a tiny-encoder collection on the CPU."""
    return ["--uri", str(uri), "--collection", collection, "--encoder", "tiny", "--weights", "untrained",
            "--device", "cpu"]  # fmt: skip


class AppServer:
    """``with AppServer(args, log_path, env) as app: page.goto(app.url)``."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None,
                 startup_timeout: float = 60.0) -> None:  # fmt: skip
        self.args, self.log_path, self.startup_timeout = list(args), Path(log_path), startup_timeout
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> AppServer:
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)
        env.update(self.extra_env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        command = [sys.executable, "-m", "mmrag_lab.cli", "app", "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(command, cwd=self.log_path.parent, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"mmrag app exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(
            f"mmrag app did not listen within {self.startup_timeout:.0f} s:\n{self.log()[-3000:]}"
        )

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
