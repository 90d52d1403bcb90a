"""Connecting to Milvus and reading its failures: the client with its gRPC options, and what an error means.

Every backend builds its clients here (:func:`new_client`), and the retry layer (:mod:`mmrag_lab.store.retry`)
reads failures with the predicates here: a deadline passed, the connection is gone, the collection is released.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from mmrag_lab.errors import StoreError

if TYPE_CHECKING:
    from pymilvus import MilvusClient

# Keepalive pings every 30 s, also while idle and during a long call (an index build): the Lite server
# accepts them at any rate, and a Milvus server's minimum ping interval is below this.
CLIENT_GRPC_OPTIONS = {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 20_000,
    "grpc.keepalive_permit_without_calls": True,
    "grpc.http2.max_pings_without_data": 0,
}
DEFAULT_CONNECT_TIMEOUT_S = 10.0


def new_client(address: str, token: str, display: str, timeout_s: float | None = None) -> MilvusClient:
    """A pymilvus client for ``address``, waiting at most ``timeout_s`` (default 10) seconds for an answer;
    gRPC is loaded here, first, with its fork notices silenced.

    Raises:
        StoreError: The server cannot be reached; the message shows ``display``, never credentials.
    """
    quiet_grpc()
    from pymilvus import MilvusClient

    try:
        return MilvusClient(
            uri=address, token=token, dedicated=True, grpc_options=dict(CLIENT_GRPC_OPTIONS),
            timeout=DEFAULT_CONNECT_TIMEOUT_S if timeout_s is None else timeout_s,
        )  # fmt: skip
    except failures() as exc:
        raise StoreError(
            f"Cannot reach the Milvus server at {display} ({error_text(exc)}). Check that it runs and that "
            "the URI and port are right (a server's gRPC port, 19530 by default); a slow network may need "
            "a longer --connect-timeout (MMRAG_MILVUS_CONNECT_TIMEOUT); Zilliz Cloud and servers with "
            "authentication need MMRAG_MILVUS_TOKEN."
        ) from None


def quiet_grpc() -> None:
    """Keep gRPC's INFO lines out of the output, before gRPC first loads (it reads its level only then).

    Without this every fork of an ingest decode worker (done on purpose, while gRPC threads run) prints a
    notice. A level the user set wins; once gRPC has loaded, this changes nothing.
    """
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def failures() -> tuple[type[Exception], ...]:
    """What a Milvus client raises for a failed call: pymilvus' errors, and gRPC's (a deadline, a denial)."""
    import grpc
    from pymilvus.exceptions import MilvusException

    return MilvusException, grpc.RpcError


def error_text(exc: Exception) -> str:
    """The message of a Milvus or gRPC error, without its class decoration."""
    code, details = getattr(exc, "code", None), getattr(exc, "details", None)
    if callable(code) and callable(details):  # a raw grpc.RpcError
        return f"{getattr(code(), 'name', code())}: {details()}"
    return str(getattr(exc, "message", exc))


def timed_out(exc: Exception) -> bool:
    """True when ``exc`` says the call's deadline passed without an answer."""
    return "deadline_exceeded" in error_text(exc).lower().replace(" ", "_")


def lost_connection(exc: Exception) -> bool:
    """True when ``exc`` says the server could not be reached (rather than refusing the request)."""
    text = error_text(exc).lower()
    return any(s in text for s in ("fail connecting", "unavailable", "connection refused", "closed channel"))


def needs_load(exc: Exception) -> bool:
    """True when ``exc`` says the collection is released (a restarted Lite server starts that way)."""
    text = error_text(exc).lower()
    return "not loaded" in text or "state 'released'" in text or "call load()" in text


def version_at_least(version: str, major: int, minor: int) -> bool:
    """True when a version string such as ``v2.6.1`` is at least ``major.minor``."""
    found = re.match(r"v?(\d+)\.(\d+)", version)
    return bool(found) and (int(found[1]), int(found[2])) >= (major, minor)
