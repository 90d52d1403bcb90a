"""``mmrag ingest``'s engine options: ``--devices`` is the Ray engine over those GPUs, and bad engine options
(or a missing Ray) are refused before any work, with exit status 2 and a message that says what works."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mmrag_lab.cli import build_parser
from mmrag_lab.cli.engine_options import ray_options
from mmrag_lab.errors import ConfigError

CLI = [sys.executable, "-m", "mmrag_lab.cli"]


def test_devices_is_the_ray_engine_over_those_gpus():
    parser = build_parser()
    engine, options = ray_options(parser.parse_args(["ingest", "/data", "--devices", " cuda:0, cuda:1 "]))
    assert engine == "ray" and options.gpus == (0, 1) and options.address is None
    engine, options = ray_options(
        parser.parse_args(["ingest", "/data", "--engine", "ray", "--ray-writers", "3"])
    )
    assert engine == "ray" and options.writers == 3 and options.gpus is None
    assert ray_options(parser.parse_args(["ingest", "/data"])) == ("local", None)
    for argv, message in [
        (["--devices", "cuda:0,cuda:0"], "distinct"),
        (["--devices", "cpu"], "CUDA devices"),
        (["--ray-address", "auto"], "--ray-address needs --engine ray"),
        (["--engine", "ray", "--devices", "cuda:0", "--ray-address", "auto"], "cluster's GPUs"),
        (["--engine", "ray", "--ray-actors", "0"], "--ray-actors"),
    ]:
        with pytest.raises(ConfigError, match=message):
            ray_options(parser.parse_args(["ingest", "/data", *argv]))


@pytest.mark.parametrize(
    "argv, message",
    [(["--ray-address", "auto"], "--ray-address needs --engine ray"),
     (["--engine", "ray", "--ray-address", "localhost:6379"], "auto or ray://host:port")],
)  # fmt: skip
def test_bad_engine_options_are_refused_before_any_work(tmp_path, argv, message):
    done = subprocess.run([*CLI, "ingest", str(tmp_path), "--uri", str(tmp_path / "x.db"), *argv],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))  # fmt: skip
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (tmp_path / "x.db").exists()


def test_the_ray_engine_without_ray_installed_says_what_to_install(tmp_path):
    code = "import sys; sys.modules['ray'] = None; from mmrag_lab.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", code, "ingest", str(tmp_path), "--uri", str(tmp_path / "x.db"), "--engine", "ray"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "pip install 'mmrag-lab[ray]'" in done.stderr, done.stderr
