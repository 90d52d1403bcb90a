"""Importing the package changes no environment variable, and gRPC still prints no fork notices."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=240
    )


@pytest.mark.slow
def test_importing_every_stage_changes_no_environment_variable():
    done = run(
        """
        import importlib, os, pkgutil
        import torch._dynamo  # torch sets its own TORCHINDUCTOR_CACHE_DIR when its compiler loads
        before = dict(os.environ)
        import mmrag_lab
        for module in pkgutil.walk_packages(mmrag_lab.__path__, "mmrag_lab."):
            importlib.import_module(module.name)
        changed = {k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)}
        print(sorted(changed))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_forks_beside_running_grpc_threads_print_no_notice(tmp_path):
    done = run(
        f"""
        import os, threading, time
        from mmrag_lab.config import Config
        from mmrag_lab.store.vector_store import Store
        store = Store.open(Config.load(env={{}}, milvus_uri={str(tmp_path / "fork.db")!r}))
        busy = threading.Thread(target=lambda: [store.exists() for _ in iter(int, 1)], daemon=True)
        busy.start()
        time.sleep(0.5)
        for _ in range(5):  # like the ingest's decode workers, forked while gRPC threads run
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        print("forked", os.environ.get("GRPC_VERBOSITY"))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "forked ERROR"
    assert "fork" not in done.stderr, done.stderr
