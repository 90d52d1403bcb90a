"""Whose process a Milvus Lite server record names, and what to tell a user when ours does not answer.

A record (``<db>.server.json``) names a pid. That pid may be gone, reused by another program, or be our
server for this very file. Ours may answer, or be alive and silent: stopped (SIGSTOP, Ctrl-Z, a debugger) or
busy (an index build holding the GIL). A silent server of ours still holds the file, so it must never be
taken for a stale record: another server for the file would fail on Lite's lock, and every user of the file
would lose track of the one that still serves it. :func:`our_server` tells them apart;
:func:`silent_server_advice` says what to do.
"""

from __future__ import annotations

import os

SERVER_MODULE = "mmrag_lab.store.lite_server"


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    return process_state(pid) not in (None, "Z", "X")


def process_state(pid: int) -> str | None:
    """The process's state letter from ``/proc`` (``R``, ``S``, ``T`` stopped, ``Z``...), None when gone."""
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # another user's process: it exists
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return None
    except OSError:
        return "?"


def runs_our_server(pid: int, db: str) -> bool:
    """True when ``pid`` runs this package's Lite server for ``db`` (its command line says so)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    return SERVER_MODULE in argv and db in argv


def our_server(record: dict | None, db: str) -> int | None:
    """The pid of ``record`` when it is alive and runs our server for ``db`` (answering or not), else None."""
    if not record or record.get("db") != db:
        return None
    try:
        pid = int(record.get("pid", 0))
    except (TypeError, ValueError):
        return None
    return pid if pid_alive(pid) and runs_our_server(pid, db) else None


def silent_server_advice(db: str, pid: int, waited_s: float) -> str:
    """What to tell a user whose command found ``db``'s server (``pid``, ours) silent for ``waited_s`` s."""
    if process_state(pid) in ("T", "t"):
        why = (
            f"it is stopped (by SIGSTOP, Ctrl-Z or a debugger). Resume it with `kill -CONT {pid}`, or end "
            f"it with `mmrag lite stop {db}`"
        )
    else:
        why = (
            "it is running but busy (e.g. building an index) or hung. Wait and try again, or end it with "
            f"`mmrag lite stop {db}` (or `kill {pid}`)"
        )
    return (
        f"The Milvus Lite server of {db} (pid {pid}, started by mmrag_lab) did not answer within "
        f"{waited_s:.0f} s: {why}; the next command starts a new one. It was left alone: it still holds "
        "the file, so no second server can open it."
    )
