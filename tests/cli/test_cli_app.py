"""``mmrag app``: its options and limits, the Voilà command it builds, and the real server answering a page."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mmrag_lab.cli import build_parser, main
from mmrag_lab.cli.app import app_config, kernel_environment
from mmrag_lab.config import Config
from mmrag_lab.workbench.serving.app_server import APP_NOTEBOOK, page_url, voila_command

REPO = Path(__file__).resolve().parents[2]


def _args(*argv: str):
    return build_parser().parse_args(["app", *argv])


def test_it_listens_on_loopback_by_default_and_elsewhere_only_when_told(monkeypatch):
    for name in ("MMRAG_APP_MAX_UPLOAD_MB", "MMRAG_APP_IDLE_TIMEOUT", "MMRAG_APP_MAX_KERNELS"):
        monkeypatch.delenv(name, raising=False)
    args = _args()
    assert (args.host, args.port) == ("127.0.0.1", None)
    command = voila_command(app_config(args), APP_NOTEBOOK, host=args.host, port=8866)
    assert "--Voila.ip=127.0.0.1" in command and "--port=8866" in command
    assert page_url("127.0.0.1", 8866) == "http://127.0.0.1:8866/"
    wide = _args("--host", "0.0.0.0", "--port", "9000")
    assert "--Voila.ip=0.0.0.0" in voila_command(app_config(wide), APP_NOTEBOOK, host=wide.host, port=9000)
    assert page_url("::1", 9000) == "http://[::1]:9000/"


def test_the_page_has_no_code_no_tracebacks_no_browser_and_the_limits(monkeypatch):
    monkeypatch.setenv("MMRAG_APP_MAX_KERNELS", "5")
    monkeypatch.setenv("MMRAG_APP_IDLE_TIMEOUT", "300")
    monkeypatch.delenv("MMRAG_APP_MAX_UPLOAD_MB", raising=False)
    config = app_config(_args("--max-upload-mb", "2"))  # an option wins over the environment's default
    assert (config.app_max_kernels, config.app_idle_timeout, config.app_max_upload_mb) == (5, 300.0, 2.0)
    command = voila_command(config, APP_NOTEBOOK, host="127.0.0.1", port=1)
    for flag in ("--no-browser", "--strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
                 "--template=lab", "--CappedKernelManager.max_kernels=5",
                 "--MappingKernelManager.cull_idle_timeout=300", "--MappingKernelManager.cull_interval=60",
                 "--MappingKernelManager.cull_connected=True",
                 "--VoilaConfiguration.multi_kernel_manager_class=mmrag_lab.workbench.serving.app_server.CappedKernelManager",
                 f"--Voila.tornado_settings={{'websocket_max_message_size': {9 * 1024 * 1024}}}"):  # fmt: skip
        assert flag in command
    assert app_config(_args("--max-kernels", "2")).app_max_kernels == 2


def test_kernels_get_the_settings_as_absolute_paths_and_no_secret_is_added(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.db").write_bytes(b"")
    config = Config.load(env={}, milvus_uri="x.db", collection="c", encoder="tiny", app_max_kernels=3)
    env = kernel_environment(config, {"OPENAI_API_KEY": "from-the-server"})
    assert env["MMRAG_MILVUS_URI"] == str(tmp_path / "x.db")  # Voila runs kernels in the notebook's folder
    assert (env["MMRAG_COLLECTION"], env["MMRAG_ENCODER"], env["MMRAG_APP_MAX_KERNELS"]) == ("c", "tiny", "3")
    assert env["OPENAI_API_KEY"] == "from-the-server" and "MMRAG_MILVUS_TOKEN" not in env
    assert "MMRAG_WEIGHTS" not in env  # unset stays unset


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(["--max-upload-mb", "0"], "--max-upload-mb must be a size in megabytes above 0"),
     (["--max-kernels", "-1"], "--max-kernels must be a whole number from 0 to 1,000"),
     (["--idle-timeout", "-5"], "--idle-timeout must be a number of seconds 0 or more"),
     (["--notebook", "/nowhere/app.ipynb"], "No app notebook at /nowhere/app.ipynb")],
)  # fmt: skip
def test_bad_options_are_refused_with_a_message(argv, fragment, capsys):
    assert main(["app", *argv]) == 2
    assert fragment in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_mmrag_app_serves_the_page_without_code(tmp_path):
    port = _free_port()
    env = {
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    command = [sys.executable, "-m", "mmrag_lab.cli", "app", "--port", str(port), "--uri", str(tmp_path / "a.db"),
               "--encoder", "tiny", "--weights", "untrained", "--device", "cpu"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    try:
        assert proc.stdout.readline().startswith(
            f"mmrag app: collection 'mmrag_images_tiny' at http://127.0.0.1:{port}/"
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=120) as reply:
                    page = reply.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "mmrag app never answered"
                time.sleep(0.5)
        assert (
            "application/vnd.jupyter.widget-view+json" in page
        )  # the notice widget of the missing collection
        assert "app_page" not in page and "install_in_colab" not in page and "Traceback" not in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with pytest.raises(OSError):  # SIGTERM reached Voila too: nothing listens any more
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
