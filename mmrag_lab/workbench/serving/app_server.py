"""How ``mmrag app`` runs Voilà: the command line, and the kernel manager that caps the number of visitors.

Voilà starts one kernel per visitor and gives it the server's environment, so every visitor's app reads the
same ``MMRAG_*`` settings and secrets, and reaches the one Milvus Lite file through its per-file server.
The limits that protect the host are Voilà and jupyter_server settings, passed on the command line:

* the number of kernels: :class:`CappedKernelManager` (Voilà's ``multi_kernel_manager_class``) answers a
  visitor over ``max_kernels`` with a 503 page that says the app is full;
* an idle visitor's kernel: jupyter_server's ``MappingKernelManager.cull_idle_timeout`` culls it, even with
  the page still open (``cull_connected``);
* an upload: the app refuses files over ``MMRAG_APP_MAX_UPLOAD_MB`` with a message, and the websocket
  refuses any message over four times that (tornado's ``websocket_max_message_size``).
"""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError

MB = 1024 * 1024
DEFAULT_PORT = 8866
APP_NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "app.ipynb"


class CappedKernelManager(AsyncMappingKernelManager):
    """A kernel manager that starts at most ``max_kernels`` kernels at once (0: no cap)."""

    max_kernels = Integer(8, config=True, help="Most kernels running at once; 0 means no cap.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._starting = 0

    async def start_kernel(self, *, kernel_id: str | None = None, path: str | None = None, **kwargs) -> str:
        """Start a kernel, or raise a 503 when ``max_kernels`` are running or starting."""
        if kernel_id is None and self.max_kernels > 0:
            if len(self.list_kernel_ids()) + self._starting >= self.max_kernels:
                raise web.HTTPError(
                    503,
                    f"{self.max_kernels} kernels are running, the cap (MMRAG_APP_MAX_KERNELS)",
                    reason=f"The app is full: it serves {self.max_kernels} visitor(s) at once. Try again in a "
                    "few minutes.",
                )
        self._starting += 1
        try:
            return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        finally:
            self._starting -= 1


def voila_command(config: Config, notebook: str | Path, *, host: str, port: int) -> list[str]:
    """The Voilà command line for ``notebook``: no code cells, no tracebacks, no browser, and the limits."""
    idle = int(config.app_idle_timeout)
    manager = f"{CappedKernelManager.__module__}.{CappedKernelManager.__name__}"
    websocket_max = int(4 * config.app_max_upload_mb * MB) + MB
    return [
        # traitlets calls the list and dict forms below deprecated, yet the dict needs an int value
        sys.executable, "-W", "ignore::DeprecationWarning", "-m", "voila", str(notebook),
        "--no-browser", f"--Voila.ip={host}", f"--port={port}", "--Voila.port_retries=0",
        "--template=lab", "--strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.file_allowlist=[]",
        f"--VoilaConfiguration.multi_kernel_manager_class={manager}",
        f"--CappedKernelManager.max_kernels={config.app_max_kernels}",
        f"--MappingKernelManager.cull_idle_timeout={idle}",
        f"--MappingKernelManager.cull_interval={max(1, min(60, idle // 4))}",
        "--MappingKernelManager.cull_connected=True",
        f"--Voila.tornado_settings={{'websocket_max_message_size': {websocket_max}}}",
    ]  # fmt: skip


def check_listen(host: str, port: int) -> None:
    """Refuse, before anything is announced or started, an address the page could not listen on: an empty or
    unresolvable ``--host``, one that is not this machine's, or a ``--port`` another program holds.

    Every address the host name resolves to is bound for a moment, as Voilà's server will bind them.
    """
    if not host.strip():
        raise ConfigError(
            "--host is empty; give the address to listen on: 127.0.0.1 (this machine only, the default) or "
            "0.0.0.0 (every network interface)."
        )
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(
            f"--host {host!r} is neither an IP address nor a name this machine can resolve "
            f"({getattr(exc, 'strerror', None) or exc}); give e.g. 127.0.0.1 or 0.0.0.0."
        ) from None
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as tornado binds
            try:
                probe.bind(address)
            except OSError as exc:
                raise ConfigError(_bind_problem(host, port, exc)) from None


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"--port {port}: another program already listens on {host}:{port}; pick a free port with --port N."
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host!r} is not an address of this machine; give one of its addresses, or 0.0.0.0."
    if exc.errno == errno.EACCES:
        return f"--port {port}: not allowed to listen there (ports below 1024 need root); pick 1024 or above."
    return f"--host {host!r} --port {port}: cannot listen there ({exc.strerror or exc}); pick another."


def page_url(host: str, port: int) -> str:
    """Where a browser on this machine (or, for a wildcard host, on the network) finds the page."""
    shown = {"0.0.0.0": "<this machine's address>", "::": "<this machine's address>"}.get(host, host)
    if ":" in shown and not shown.startswith("<"):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"
