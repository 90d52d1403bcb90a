"""The process that serves one Milvus Lite ``.db`` to every kernel, CLI and papermill run on this machine.

Milvus Lite lets one process open a file (it holds a flock). This server is that one process: it opens the
file, listens on 127.0.0.1 on a free port, and publishes itself in ``<db>.server.json`` (see
:mod:`mmrag_lab.store.lite_discovery`, which starts it). Every RPC must carry the per-server token from that
record, so a client never talks to a restarted or foreign server that reuses the port. It stops by itself
after ``--idle-timeout`` seconds without an RPC, on SIGTERM (``mmrag lite stop``), and removes its record.

Run by the discovery module as ``python -m mmrag_lab.store.lite_server DB --idle-timeout S``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc

from mmrag_lab.store import lite_discovery as disc

# Accept keepalive pings at any rate, idle or during a minutes-long index build, and never answer them with
# GOAWAY(too_many_pings): gRPC's defaults (pings without data refused, two strikes) drop pymilvus' clients.
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", 256 << 20),
    ("grpc.max_send_message_length", 256 << 20),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 1000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.so_reuseport", 0),
]
# Milvus Lite's engine is not safe under concurrent mutations; reads run in parallel, writes one at a time.
_READ_PREFIXES = ("Search", "HybridSearch", "Query", "Get", "Describe", "Has", "Show", "List", "Connect")
log = logging.getLogger("mmrag_lab.lite_server")


class _Gate(grpc.ServerInterceptor):
    """Checks the token, serialises mutating RPCs, counts calls and records activity."""

    def __init__(self, nonce: str) -> None:
        self.auth, self.lock, self.write = disc.auth_header(nonce), threading.Lock(), threading.Lock()
        self.inflight, self.last, self.calls = 0, time.monotonic(), Counter()

    def idle_for(self) -> float:
        """Seconds since the last RPC ended (0 while one runs)."""
        with self.lock:
            return 0.0 if self.inflight else time.monotonic() - self.last

    def touch(self, delta: int = 0, method: str | None = None) -> None:
        with self.lock:
            self.inflight += delta
            self.last = time.monotonic()
            if method:
                self.calls[method] += 1

    def intercept_service(self, continuation: Callable, details: Any) -> Any:
        handler = continuation(details)
        if dict(details.invocation_metadata or ()).get("authorization") != self.auth:

            def deny(_request: Any, context: grpc.ServicerContext) -> None:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong Milvus Lite server token")

            return grpc.unary_unary_rpc_method_handler(deny)
        if handler is None or handler.unary_unary is None or details.method == disc.INFO_METHOD:
            return handler
        inner, name = handler.unary_unary, details.method.rsplit("/", 1)[-1]
        lock = contextlib.nullcontext() if name.startswith(_READ_PREFIXES) else self.write

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            self.touch(+1, name)
            try:
                with lock:
                    return inner(request, context)
            finally:
                self.touch(-1)

        return grpc.unary_unary_rpc_method_handler(
            call, handler.request_deserializer, handler.response_serializer
        )


def serve(db: str, nonce: str, idle_timeout_s: float, max_workers: int = 16) -> None:
    """Serve ``db`` until SIGTERM/SIGINT or ``idle_timeout_s`` seconds without an RPC (0: never idle out)."""
    from milvus_lite.adapter.grpc.servicer import MilvusServicer
    from milvus_lite.db import MilvusLite
    from pymilvus.grpc_gen import milvus_pb2_grpc

    files, gate, stop = disc.side_files(db), _Gate(nonce), threading.Event()
    lite = MilvusLite(files["db"])  # takes Lite's own flock: a second server on the file fails here
    server = grpc.server(futures.ThreadPoolExecutor(max_workers), options=SERVER_OPTIONS, interceptors=[gate])
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(lite), server)
    started = time.time()

    def info(request: bytes, _context: Any) -> bytes:
        if request == b"touch":
            gate.touch()
        facts = {"pid": os.getpid(), "db": files["db"], "started": started, "idle_for_s": gate.idle_for()}
        return json.dumps({**facts, "idle_timeout_s": idle_timeout_s, "calls": dict(gate.calls)}).encode()

    handlers = {"Info": grpc.unary_unary_rpc_method_handler(info)}
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(disc.INFO_SERVICE, handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    record = {"pid": os.getpid(), "port": port, "db": files["db"], "nonce": nonce, "started": started}
    disc.write_record(files["record"], record | {"idle_timeout_s": idle_timeout_s})
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("serving %s on 127.0.0.1:%d (pid %d)", files["db"], port, os.getpid())
    try:
        _wait_until_done(stop, gate, files, idle_timeout_s)
    finally:
        disc.remove_record(files["record"], nonce)
        server.stop(grace=3).wait()
        lite.close()


def _wait_until_done(
    stop: threading.Event, gate: _Gate, files: dict[str, str], idle_timeout_s: float
) -> None:
    served = _identity(files["db"])
    while not stop.wait(0.25):
        if _identity(files["db"]) != served:  # the folder was deleted or replaced: serve nothing stale
            log.info("%s was removed or replaced: stopping", files["db"])
            return
        if idle_timeout_s <= 0 or gate.idle_for() <= idle_timeout_s:
            continue
        # Leave only while holding the start lock, so that no client is between finding us and using us.
        with disc.flock(files["lock"], blocking=False) as held:
            if held and gate.idle_for() > idle_timeout_s:
                log.info("idle for %.0f s: stopping", gate.idle_for())
                return


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def main(argv: list[str] | None = None) -> None:
    """``python -m mmrag_lab.store.lite_server DB [--idle-timeout S]``; the token comes in the environment."""
    parser = argparse.ArgumentParser(prog="python -m mmrag_lab.store.lite_server")
    parser.add_argument("db")
    parser.add_argument("--idle-timeout", type=float, default=disc.DEFAULT_IDLE_TIMEOUT_S)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(process)d %(message)s")
    log.setLevel(logging.INFO)
    serve(args.db, os.environ.pop(disc.NONCE_ENV, "") or secrets.token_hex(16), args.idle_timeout)


if __name__ == "__main__":
    sys.exit(main())
