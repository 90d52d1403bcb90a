"""Every network wait ends within a bound this file states, against real sockets: a port where nothing
listens, and a server that accepts connections and never answers. Messages name the endpoint."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from cli_inputs import TRACEBACK, small_collection

from mmrag_lab.config import Config
from mmrag_lab.errors import RerankError
from tests.ports import free_port

pytestmark = pytest.mark.slow


class Silent:
    """A TCP server that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture()
def silent():
    server = Silent()
    yield server
    server.close()


def mmrag(*argv: str, env: dict | None = None, limit: float = 120) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "mmrag_lab.cli", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=limit)  # fmt: skip
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_search_against_a_port_where_nothing_listens_ends_within_20_s(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    code, text, took = mmrag("search", "--uri", uri, "--text", "red", "--out", str(tmp_path / "o"))
    assert took < 20, f"took {took:.1f} s"
    assert code == 2 and TRACEBACK not in text
    assert uri in text and "Check that it runs" in text


@pytest.mark.parametrize("how", ["option", "environment"])
def test_search_against_a_server_that_never_answers_ends_within_its_connect_timeout(tmp_path, silent, how):
    uri = f"http://127.0.0.1:{silent.port}"
    args = ["search", "--uri", uri, "--text", "red", "--out", str(tmp_path / "o")]
    if how == "option":
        code, text, took = mmrag(*args, "--connect-timeout", "2")
    else:
        code, text, took = mmrag(*args, env={"MMRAG_MILVUS_CONNECT_TIMEOUT": "2"})
    assert silent.accepted, "the client must have reached the silent server"
    assert took < 12, f"took {took:.1f} s with a 2 s connect timeout"
    assert code == 2 and TRACEBACK not in text and uri in text and "--connect-timeout" in text


def test_the_default_milvus_connect_timeout_ends_a_silent_server_within_30_s(tmp_path, silent):
    uri = f"http://127.0.0.1:{silent.port}"
    code, text, took = mmrag("info", "--uri", uri)
    assert took < 30, f"took {took:.1f} s"
    assert code == 2 and uri in text


@pytest.fixture(scope="module")
def photos(tmp_path_factory, sample_dir, tiny_encoder):
    _, images = small_collection(tmp_path_factory.mktemp("bounds"), sample_dir, tiny_encoder, count=4)
    return sorted(images.glob("*.jpg"))


def _rerank(photos, tmp_path, **config):
    from mmrag_lab.reranking.reranker import rerank

    cfg = Config.load(env={}, cache_dir=str(tmp_path / "cache"), **config)
    return rerank(photos[1:], photos[0], "in red", config=cfg, strict=True, use_cache=False)


def test_a_reranker_that_never_answers_costs_one_read_timeout(photos, tmp_path, silent):
    url = f"http://127.0.0.1:{silent.port}/v1"
    started = time.monotonic()
    with pytest.raises(RerankError) as caught:
        _rerank(photos, tmp_path, llm_base_url=url, llm_timeout=2.0, llm_max_retries=3)
    took = time.monotonic() - started
    assert took < 8, f"took {took:.1f} s: a 2 s read timeout is not retried"
    assert "127.0.0.1" in str(caught.value) and str(silent.port) in str(caught.value)
    assert "timed out" in str(caught.value) and "--llm-timeout" in str(caught.value)


def test_the_default_reranker_bounds_end_a_silent_endpoint_within_30_s(photos, tmp_path, silent):
    started = time.monotonic()
    with pytest.raises(RerankError, match="timed out"):
        _rerank(photos, tmp_path, llm_base_url=f"http://127.0.0.1:{silent.port}/v1")
    assert time.monotonic() - started < 30


def test_a_reranker_where_nothing_listens_is_named_and_bounded(photos, tmp_path):
    port = free_port()
    started = time.monotonic()
    with pytest.raises(RerankError) as caught:
        _rerank(photos, tmp_path, llm_base_url=f"http://127.0.0.1:{port}/v1")
    took = time.monotonic() - started
    assert took < 15, f"took {took:.1f} s for 4 refused connections"
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "4 attempt" in message and "OPENAI_BASE_URL" in message


def test_search_rerank_on_a_silent_endpoint_falls_back_within_the_bound(photos, tmp_path, silent, capsys):
    """The job ran (exit 0): the fallback is reported with the endpoint and the reason."""
    from mmrag_lab.cli import main

    uri = str(photos[0].parents[1] / "lite.db")
    started = time.monotonic()
    code = main(["search", "--uri", uri, "--collection", "badinput", "--device", "cpu", "--image", str(photos[0]),
                 "--rerank", "--llm-base-url", f"http://127.0.0.1:{silent.port}/v1", "--llm-timeout", "1",
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert time.monotonic() - started < 20
    assert code == 0 and "fell back" in err and f"127.0.0.1:{silent.port}" in err and "timed out" in err
