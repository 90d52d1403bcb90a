"""Free TCP ports on loopback, for the tests that start servers (a module of its own: a test module that
wrote ``from conftest import ...`` would get whichever conftest.py pytest imported last)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
