"""Drive the real JupyterLab in a real Chromium with Playwright, the way a person would.

No pytest in here: ``conftest.py`` wraps these helpers in fixtures. Pieces:

* :class:`JupyterLab` -- a context manager that starts ``jupyter lab`` from the current interpreter (the venv)
  on 127.0.0.1, a free port and a fixed token, serving a TEMPORARY COPY of a notebooks folder, with its own
  config/settings/workspace/runtime dirs (so the developer's JupyterLab state never leaks in, and autosave
  never writes into tracked notebooks). ``window.jupyterapp`` is exposed for exact reads.
* :func:`launch_chromium` -- system Chromium (``/usr/bin/chromium``) with the flags a closed, root container needs.
* Notebook helpers: :func:`open_notebook`, :func:`run_all_cells` (menu Run -> Run All Cells),
  :func:`wait_until_done`, :func:`read_outputs`, :func:`widget_states`, :func:`screenshot`.
* ipywidgets helpers: :func:`click_button`, :func:`choose_option`, :func:`fill_text`, :func:`upload_files`,
  :func:`widget_output_text`.

Everything that reads state does so through ``page.evaluate`` on ``window.jupyterapp`` (the notebook model:
exact nbformat outputs) or through the rendered DOM (what a user sees). Use the DOM for "what is shown",
the model for "what exactly came out".
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("jlab")

DEFAULT_TOKEN = "mmrag-browser-test"

CHROMIUM_ARGS = [
    "--no-sandbox",  # running as root
    "--disable-gpu",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--disable-background-networking",  # the next five: keep Chromium off the (closed) network
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--no-default-browser-check",
]

# JupyterLab user settings written into the private settings dir: no news/update toasts, every cell in the
# DOM (windowing off: Playwright can then find widgets in any cell), no confirmation prompts on close.
DEFAULT_LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # recordTiming: every run cell gets metadata.execution timestamps -> read_outputs(...)[i]["seconds"]
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "recordTiming": True},
}


class JupyterLabError(RuntimeError):
    """Something in the browser or the server did not do what the test expected."""


class NotebookTimeout(JupyterLabError):
    """A notebook run did not finish in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_executable() -> str | None:
    """``$MMRAG_CHROMIUM``, else ``/usr/bin/chromium``, else None (Playwright's own download, if any)."""
    exe = os.environ.get("MMRAG_CHROMIUM") or "/usr/bin/chromium"
    return exe if Path(exe).exists() else None


def launch_chromium(playwright, *, headless: bool = True, slow_mo: float | None = None):
    """Launch Chromium for tests. ``headless=False`` needs an X display (e.g. ``xvfb-run``)."""
    return playwright.chromium.launch(
        executable_path=chromium_executable(),
        headless=headless,
        args=CHROMIUM_ARGS,
        slow_mo=slow_mo,
    )


# --------------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------------


class JupyterLab:
    """``with JupyterLab(notebooks_dir) as lab: page.goto(lab.lab_url("x.ipynb"))``.

    ``source`` (a folder, or None for an empty root) is copied into ``<tmp>/root``; tests may add files there
    (``lab.root``) before opening them. ``env`` adds to (None: removes from) the server's and so the
    kernels' environment; MPLBACKEND is removed unless ``env`` sets it. The server log goes to
    ``log_path`` (default ``<tmp>/jupyterlab.log``). On exit: kernels are shut down through the API, then the server's process group gets SIGTERM, then
    SIGKILL; any kernel still running from this server's runtime dir is killed by pid.
    """

    def __init__(
        self,
        source: str | os.PathLike | None = None,
        *,
        python: str | os.PathLike | None = None,
        token: str = DEFAULT_TOKEN,
        port: int | None = None,
        log_path: str | os.PathLike | None = None,
        startup_timeout: float = 90.0,
        lab_settings: dict[str, dict[str, Any]] | None = None,
        extra_args: Sequence[str] = (),
        env: dict[str, str | None] | None = None,
        keep_tmp: bool = False,
    ):
        self.source = Path(source) if source else None
        self.python = str(python or sys.executable)
        self.token = token
        self.port = port
        self.log_path = Path(log_path) if log_path else None
        self.startup_timeout = startup_timeout
        self.lab_settings = DEFAULT_LAB_SETTINGS if lab_settings is None else lab_settings
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.keep_tmp = keep_tmp
        self.proc: subprocess.Popen | None = None
        self.tmp: Path | None = None
        self.startup_seconds: float | None = None

    # -- paths and urls
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def root(self) -> Path:
        assert self.tmp is not None, "server not started"
        return self.tmp / "root"

    def lab_url(self, path: str = "") -> str:
        """URL of the Lab UI, optionally opening ``path`` (relative to the root)."""
        q = urllib.parse.urlencode({"token": self.token, "reset": ""})
        if path:
            return f"{self.base_url}/lab/tree/{urllib.parse.quote(path)}?{q}"
        return f"{self.base_url}/lab?{q}"

    # -- REST
    def api(self, path: str, method: str = "GET", body: Any = None, timeout: float = 10.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}/api/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def kernels(self) -> list[dict]:
        return self.api("kernels")

    def sessions(self) -> list[dict]:
        return self.api("sessions")

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "<no server log>"

    # -- lifecycle
    def __enter__(self) -> JupyterLab:
        self.tmp = Path(tempfile.mkdtemp(prefix="mmrag-jlab-"))
        if self.source:
            shutil.copytree(self.source, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            self.root.mkdir()
        for sub in ("config", "runtime", "settings", "workspaces"):
            (self.tmp / sub).mkdir()
        for plugin, values in self.lab_settings.items():
            pkg, name = plugin.rsplit("/", 1)
            f = self.tmp / "settings" / pkg / f"{name}.jupyterlab-settings"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(values))
        self.log_path = self.log_path or self.tmp / "jupyterlab.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()

        env = dict(os.environ)
        # A test runner's MPLBACKEND=Agg (tests/conftest.py sets it) would reach the kernel and silence
        # inline figures: ipykernel only picks the inline backend when MPLBACKEND is unset.
        env.pop("MPLBACKEND", None)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.tmp / "config"),
            JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(self.tmp / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.tmp / "workspaces"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
            PATH=f"{Path(self.python).parent}{os.pathsep}{env.get('PATH', '')}",
        )
        for k, v in self.extra_env.items():  # a None value removes the variable
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        cmd = [
            self.python,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.terminals_enabled=False",
            *self.extra_args,
        ]
        t0 = time.monotonic()
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            self._wait_ready(t0)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self, t0: float) -> None:
        last = None
        while time.monotonic() - t0 < self.startup_timeout:
            if self.proc.poll() is not None:
                raise JupyterLabError(
                    f"jupyter lab exited with {self.proc.returncode} during startup; log:\n{self.log_tail()}"
                )
            try:
                self.api("status", timeout=2)
                # /lab itself must render too (the lab extension is loaded after the REST API)
                with urllib.request.urlopen(f"{self.base_url}/lab?token={self.token}", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError, ValueError) as e:
                last = e
            time.sleep(0.25)
        raise JupyterLabError(
            f"jupyter lab did not answer /api/status within {self.startup_timeout:.0f}s ({last!r}); "
            f"log:\n{self.log_tail()}"
        )

    def _stray_kernel_pids(self) -> list[int]:
        """Kernels launched by this server: their cmdline names a connection file in our runtime dir."""
        marker = str(self.tmp / "runtime").encode()
        pids = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if marker in (d / "cmdline").read_bytes():
                        pids.append(int(d.name))
                except OSError:
                    pass
        return pids

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:  # polite: shut kernels down so they do not outlive the server
                for k in self.kernels():
                    self.api(f"kernels/{k['id']}", method="DELETE", timeout=10)
            except Exception:
                pass
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.tmp is not None:
            for pid in self._stray_kernel_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if getattr(self, "_log", None):
            self._log.close()
        if self.tmp is not None and not self.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------------------
# JavaScript snippets evaluated in the page (window.jupyterapp is a JupyterFrontEnd)
# --------------------------------------------------------------------------------------------------------

# Playwright evaluates one function expression: the panel finder is pasted inside each function body.
_JS_FIND_PANEL = """
  const __findPanel = (path) => Array.from(window.jupyterapp.shell.widgets('main')).find(
      w => w.context && w.context.path === path && w.content && w.content.model && w.content.model.cells
  ) || null;
"""


def _js(head: str, body: str) -> str:
    """``head`` like "(path) =>" or "async (path) =>"; ``body`` the statements after the panel finder."""
    return f"{head} {{{_JS_FIND_PANEL}{body}}}"


_JS_PANEL_STATE = _js(
    "(path) =>",
    """
  const p = __findPanel(path);
  if (!p) return null;
  const sc = p.sessionContext;
  const kernel = sc.session && sc.session.kernel;
  const cells = [];
  p.content.widgets.forEach((cw, i) => {
    const m = cw.model;
    if (m.type !== 'code') return;
    const prompt = cw.node.querySelector('.jp-InputPrompt');
    cells.push({index: i, execution_count: m.executionCount,
                execution_state: m.executionState === undefined ? null : m.executionState,
                prompt: prompt ? prompt.textContent.trim() : null});
  });
  const dialogs = Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.innerText.slice(0, 300));
  return {id: p.id, ready: p.context.isReady && sc.isReady, kernel_id: kernel ? kernel.id : null,
          kernel_name: kernel ? kernel.name : null,
          kernel_status: kernel ? kernel.status : null, kernel_display: sc.kernelDisplayName,
          kernel_preference: sc.kernelPreference ? sc.kernelPreference.name || null : null,
          dirty: p.context.model.dirty, trusted: p.content.model.cells.length ?
             Array.from(p.content.model.cells).every(c => c.trusted !== false) : true,
          current: window.jupyterapp.shell.currentWidget === p, cells, dialogs};
""",
)

_JS_READ_OUTPUTS = _js(
    "(path) =>",
    """
  const p = __findPanel(path);
  if (!p) return null;
  const out = [];
  Array.from(p.content.model.cells).forEach((m, i) => {
    const ex = m.getMetadata ? m.getMetadata('execution') : null;
    const t0 = ex && ex['iopub.execute_input'], t1 = ex && ex['shell.execute_reply'];
    const cell = {index: i, cell_type: m.type, source: m.sharedModel.getSource(), execution_count: null,
                  seconds: (t0 && t1) ? (Date.parse(t1) - Date.parse(t0)) / 1000 : null, outputs: []};
    if (m.type === 'code') {
      cell.execution_count = m.executionCount;
      for (let j = 0; j < m.outputs.length; j++) cell.outputs.push(m.outputs.get(j).toJSON());
    }
    out.push(cell);
  });
  return out;
""",
)

# Widget models, read through the widget renderers that ipywidgets' lab manager puts in the output areas.
# This walks private-ish fields (renderer._manager) that have been stable across ipywidgets 7/8; the DOM
# helpers below are the user-level view and do not depend on them.
_JS_WIDGET_STATES = _js(
    "async (path) =>",
    """
  const p = __findPanel(path);
  if (!p) return null;
  let manager = null;
  const seen = new Set();
  const walk = (w) => {
    if (!w || seen.has(w)) return;
    seen.add(w);
    if (!manager && w._manager) manager = w._manager;
    if (w.widgets) Array.from(w.widgets).forEach(walk);
  };
  p.content.widgets.forEach(cw => { if (cw.outputArea) walk(cw.outputArea); });
  if (!manager) return {};
  if (manager.promise) manager = await manager.promise;   // PromiseDelegate in some versions
  const models = await Promise.all(Object.values(manager._models || {}));
  const res = {};
  for (const m of models) {
    const st = {};
    for (const [k, v] of Object.entries(m.attributes)) {
      if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) { st[k] = `<${v.byteLength} bytes>`; continue; }
      try { st[k] = JSON.parse(JSON.stringify(v, (kk, vv) =>
          (vv && vv.model_id && vv.attributes) ? 'IPY_MODEL_' + vv.model_id :
          (vv instanceof ArrayBuffer || ArrayBuffer.isView(vv)) ? `<${vv.byteLength} bytes>` : vv)); }
      catch (e) { st[k] = String(v); }
    }
    res[m.model_id] = st;
  }
  return res;
""",
)


def _panel_state(page, path: str) -> dict | None:
    return page.evaluate(_JS_PANEL_STATE, path)


def _panel_locator(page, path: str):
    st = _panel_state(page, path)
    if st is None:
        raise JupyterLabError(f"notebook {path!r} is not open in this page")
    return page.locator(f'[id="{st["id"]}"]')


def notebook(page, path: str):
    """Locator of the notebook panel for ``path`` (scope for the widget helpers)."""
    return _panel_locator(page, path)


def cell(page, path: str, index: int):
    """Locator of cell ``index`` (0-based, all cell types counted) of notebook ``path``."""
    # JupyterLab 4 puts cells in a windowed list; each cell node carries its index.
    return _panel_locator(page, path).locator(f'.jp-Notebook-cell[data-windowed-list-index="{index}"]')


# --------------------------------------------------------------------------------------------------------
# Opening and running notebooks
# --------------------------------------------------------------------------------------------------------


def wait_for_app(page, timeout: float = 60) -> None:
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=timeout * 1000)
    page.evaluate("async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }")


def _handle_dialogs(page, path: str, st: dict, kernel_dialog: str) -> None:
    if not st or not st["dialogs"]:
        return
    text = " | ".join(st["dialogs"])
    if "Select Kernel" in text or "select a kernel" in text.lower():
        if kernel_dialog != "fail":
            if kernel_dialog != "accept":  # a kernel's display name, e.g. "Python 3 (ipykernel)"
                page.locator(".jp-Dialog select").select_option(label=kernel_dialog)
            page.locator(".jp-Dialog .jp-mod-accept").click()
            page.locator(".jp-Dialog").wait_for(state="detached")
            return
        raise JupyterLabError(
            f"JupyterLab asked to select a kernel for {path!r} (its kernelspec is not installed in the "
            f"server's environment?). Dialog: {text!r}"
        )
    raise JupyterLabError(f"unexpected dialog while handling {path!r}: {text!r}")


def open_notebook(
    lab: JupyterLab,
    page,
    path: str,
    *,
    timeout: float = 90,
    kernel_dialog: str = "fail",
    via: str = "filebrowser",
) -> dict:
    """Open ``path`` (relative to ``lab.root``) and wait until its kernel is connected and idle.

    The first notebook is opened by navigating to ``/lab/tree/<path>``; later ones in the same page by
    double-clicking them in the file browser (``via="filebrowser"``) or through the ``docmanager:open``
    command (``via="command"``). Earlier notebooks stay open with their kernels running: each open notebook
    has its own kernel. ``kernel_dialog``: what to do if JupyterLab asks "Select Kernel" (the notebook's
    kernelspec is missing or unknown to this server): "fail" (default), "accept" (its preselected kernel),
    or the display name of the kernel to pick, e.g. "Python 3 (ipykernel)".
    Returns the panel state (kernel id/name, ...).
    """
    opened_via = "already open"
    if not page.url.startswith(lab.base_url + "/lab"):
        page.goto(lab.lab_url(path))
        wait_for_app(page, timeout)
        opened_via = "url"
    elif _panel_state(page, path) is None:
        opened = False
        if via == "filebrowser" and "/" not in path:
            page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:go-to-path', {path: '/'})")
            item = page.locator(".jp-DirListing-item").filter(
                has=page.locator(".jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(path)}$"))
            )
            try:
                item.first.dblclick(timeout=10_000)
                opened, opened_via = True, "filebrowser"
            except Exception:
                opened = False
        if not opened:
            page.evaluate(
                "(p) => window.jupyterapp.commands.execute('docmanager:open', {path: p, factory: 'Notebook'})",
                path,
            )
            opened_via = "command"
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = _panel_state(page, path)
        if st:
            _handle_dialogs(page, path, st, kernel_dialog)
            if st["ready"] and st["kernel_status"] == "idle":
                return dict(st, opened_via=opened_via)
            if st["kernel_status"] == "dead":
                raise JupyterLabError(f"kernel for {path!r} died on start; server log:\n{lab.log_tail()}")
        time.sleep(0.25)
    raise JupyterLabError(f"notebook {path!r} not ready in {timeout}s: state={st}\n{lab.log_tail()}")


def activate(page, path: str) -> None:
    """Make ``path`` the current notebook by clicking its tab (as a person would)."""
    st = _panel_state(page, path)
    if st is None:
        raise JupyterLabError(f"notebook {path!r} is not open")
    if not st["current"]:
        page.locator(f'.lm-DockPanel-tabBar .lm-TabBar-tab[data-id="{st["id"]}"]').click()
        page.wait_for_function(
            _js("(p) =>", "return window.jupyterapp.shell.currentWidget === __findPanel(p);"), arg=path
        )


def menu(page, *labels: str) -> None:
    """Click through the main menu bar: ``menu(page, "Run", "Run All Cells")``."""
    top, *rest = labels
    page.locator(".lm-MenuBar-item").filter(
        has=page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(top)}$"))
    ).click()
    for label in rest:
        item = page.locator(".lm-Menu:visible .lm-Menu-item").filter(
            has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(label)}$"))
        )
        item.first.click()


def run_all_cells(page, path: str) -> dict:
    """Activate ``path`` and click Run -> Run All Cells. Returns the pre-run state for wait_until_done."""
    activate(page, path)
    before = _panel_state(page, path)
    menu(page, "Run", "Run All Cells")
    return before


def wait_until_done(
    lab: JupyterLab,
    page,
    path: str,
    before: dict | None = None,
    *,
    timeout: float = 300,
    idle_polls: int = 3,
    poll: float = 0.5,
    log_every: float = 15,
) -> float:
    """Wait until a run started by :func:`run_all_cells` has finished. Returns the seconds waited.

    Finished = the run has started (some code cell got a new execution count), no code cell shows ``[*]``,
    and both the page and ``/api/kernels/<id>`` report the kernel idle ``idle_polls`` polls in a row.
    Raises NotebookTimeout (which cells still run, kernel state, server log tail) on timeout, and
    JupyterLabError if the kernel dies.
    """
    t0 = time.monotonic()
    before_counts = {c["index"]: c["execution_count"] for c in (before or {}).get("cells", [])}
    streak = 0
    st = None
    server_state = None
    last_log = t0
    while True:
        elapsed = time.monotonic() - t0
        st = _panel_state(page, path)
        if st is None:
            raise JupyterLabError(f"notebook {path!r} was closed while running")
        if st["kernel_status"] in ("dead", "autorestarting", "restarting"):
            raise JupyterLabError(
                f"kernel of {path!r} is {st['kernel_status']} (crash / out of memory?); "
                f"server log:\n{lab.log_tail()}"
            )
        _handle_dialogs(page, path, st, "fail")
        started = (not st["cells"]) or any(
            c["execution_count"] is not None and c["execution_count"] != before_counts.get(c["index"])
            for c in st["cells"]
        )
        running = [
            c["index"] for c in st["cells"] if c["prompt"] == "[*]:" or c["execution_state"] == "running"
        ]
        try:
            server_state = lab.api(f"kernels/{st['kernel_id']}", timeout=5)["execution_state"]
        except Exception as e:  # noqa: BLE001
            server_state = f"unreachable: {e!r}"
        idle = started and not running and st["kernel_status"] == "idle" and server_state == "idle"
        streak = streak + 1 if idle else 0
        if time.monotonic() - last_log > log_every:
            last_log = time.monotonic()
            log.info(
                "%s: %.0fs started=%s running=%s page kernel=%s server kernel=%s idle streak=%d",
                path, elapsed, started, running[:8], st["kernel_status"], server_state, streak,
            )  # fmt: skip
        if streak >= idle_polls:
            return elapsed
        if elapsed > timeout:
            raise NotebookTimeout(
                f"{path!r} not finished after {timeout:.0f}s: started={started}, cells running={running}, "
                f"page kernel={st['kernel_status']}, server kernel={server_state}, "
                f"prompts={[(c['index'], c['prompt']) for c in st['cells']]}\n"
                f"server log tail:\n{lab.log_tail(30)}"
            )
        time.sleep(poll)


def run_notebook(lab: JupyterLab, page, path: str, *, timeout: float = 300) -> list[dict]:
    """Open (if needed), Run All Cells via the menu, wait, and return :func:`read_outputs`."""
    if not page.url.startswith(lab.base_url + "/lab") or _panel_state(page, path) is None:
        open_notebook(lab, page, path)
    before = run_all_cells(page, path)
    wait_until_done(lab, page, path, before, timeout=timeout)
    return read_outputs(page, path)


# --------------------------------------------------------------------------------------------------------
# Reading outputs
# --------------------------------------------------------------------------------------------------------


def read_outputs(page, path: str) -> list[dict]:
    """All cells of ``path`` from the live notebook model: ``[{index, cell_type, source, execution_count,
    seconds (the last run's duration, from recordTiming), outputs: [nbformat output dicts]}]``. Each output also gets convenience keys: ``text`` (stream text, or
    text/plain, or ename: evalue), ``has_png``, ``widget_model_id``."""
    cells = page.evaluate(_JS_READ_OUTPUTS, path)
    if cells is None:
        raise JupyterLabError(f"notebook {path!r} is not open")
    for c in cells:
        for o in c["outputs"]:
            data = o.get("data") or {}
            t = o.get("text")
            if isinstance(t, list):
                t = "".join(t)
            if t is None and "text/plain" in data:
                t = data["text/plain"]
                t = "".join(t) if isinstance(t, list) else t
            if o.get("output_type") == "error":
                t = f"{o.get('ename')}: {o.get('evalue')}"
            o["text"] = t or ""
            o["has_png"] = "image/png" in data
            view = data.get("application/vnd.jupyter.widget-view+json")
            o["widget_model_id"] = view.get("model_id") if view else None
    return cells


def errors(cells: Iterable[dict]) -> list[dict]:
    """The error outputs (with ``cell`` index added) in ``read_outputs`` cells."""
    return [dict(o, cell=c["index"]) for c in cells for o in c["outputs"] if o.get("output_type") == "error"]


def all_text(cells: Iterable[dict]) -> str:
    return "\n".join(o["text"] for c in cells for o in c["outputs"])


def widget_states(page, path: str) -> dict[str, dict]:
    """``{model_id: state}`` of every ipywidgets model in ``path``'s widget manager (exact values,
    e.g. ``value``, ``description``, ``options``/``_options_labels``; child references as
    ``"IPY_MODEL_<id>"``; binary buffers as ``"<n bytes>"``). Empty if no widget was rendered."""
    res = page.evaluate(_JS_WIDGET_STATES, path)
    if res is None:
        raise JupyterLabError(f"notebook {path!r} is not open")
    return res


def find_widgets(states: dict[str, dict], model_name: str, **match) -> list[dict]:
    """Filter :func:`widget_states` by ``_model_name`` ("ButtonModel", "DropdownModel", ...) and values."""
    return [
        dict(s, model_id=mid)
        for mid, s in states.items()
        if s.get("_model_name") == model_name and all(s.get(k) == v for k, v in match.items())
    ]


def screenshot(page, artifacts_dir: str | os.PathLike, name: str) -> Path | None:
    """Full-page PNG (plus the page's HTML) into ``artifacts_dir``; never raises."""
    d = Path(artifacts_dir)
    d.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]
    out = d / f"{safe}.png"
    try:
        page.screenshot(path=str(out), full_page=True, timeout=15_000)
        (d / f"{safe}.html").write_text(page.content())
        return out
    except Exception:  # noqa: BLE001
        return None


# --------------------------------------------------------------------------------------------------------
# ipywidgets, as a user sees them (DOM). ``scope`` is a page, a notebook(...) or a cell(...) locator.
# ipywidgets 8 DOM: .widget-button (<button>), .widget-upload (<button>, text "Upload (n)"),
# .widget-dropdown / .widget-select (<label class=widget-label> + <select>), .widget-text (<label> + <input>),
# .widget-textarea, .widget-output (an output area), .widget-label, .widget-html-content.
# --------------------------------------------------------------------------------------------------------


def _exact(text: str):
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def button(scope, description: str, *, nth: int = 0):
    return scope.locator("button.widget-button").filter(has_text=_exact(description)).nth(nth)


def click_button(scope, description: str, *, nth: int = 0, timeout: float = 30) -> None:
    """Click the ipywidgets Button whose description (visible text) is ``description``."""
    button(scope, description, nth=nth).click(timeout=timeout * 1000)


def _page_of(scope):
    return scope.page if hasattr(scope, "page") else scope


def _labelled(scope, css: str, label: str | None, nth: int):
    loc = scope.locator(css)
    if label is not None:
        loc = loc.filter(has=_page_of(scope).locator(".widget-label", has_text=_exact(label)))
    return loc.nth(nth)


def choose_option(scope, label: str | None, option: str, *, nth: int = 0, kind: str = "dropdown") -> None:
    """Pick ``option`` (its visible label) in the Dropdown (``kind="dropdown"``) or Select (``"select"``)
    whose description is ``label`` (None: the ``nth`` one in scope)."""
    box = _labelled(scope, f".widget-{kind}", label, nth)
    box.locator("select").select_option(label=option)


def fill_text(scope, label: str | None, text: str, *, nth: int = 0, kind: str = "text", submit: bool = False):
    """Type into a Text (``kind="text"``) or Textarea (``"textarea"``) widget and commit it (blur), so the
    kernel sees the value even with ``continuous_update=False``. ``submit`` presses Enter (Text only)."""
    box = _labelled(scope, f".widget-{kind}", label, nth)
    field = box.locator("textarea" if kind == "textarea" else "input")
    field.click()
    field.fill(text)
    if submit:
        field.press("Enter")
    field.dispatch_event("change")
    field.evaluate("e => e.blur()")


def upload_files(
    scope,
    files: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    description: str | None = None,
    nth: int = 0,
    timeout: float = 30,
) -> None:
    """Upload through an ipywidgets FileUpload (the ``nth`` one in scope, or the one whose description is
    ``description``; its button reads "<description> (<count>)"). Its ``<input type=file>`` is never attached
    to the page, so ``set_input_files`` cannot reach it: click the button and answer the file chooser.
    The upload is done when the button's count changes: ``expect(upload_button(...)).to_have_text(...)``."""
    page = _page_of(scope)
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    with page.expect_file_chooser(timeout=timeout * 1000) as fc:
        upload_button(scope, description, nth=nth).click(timeout=timeout * 1000)
    fc.value.set_files([str(f) for f in files])


def upload_button(scope, description: str | None = None, *, nth: int = 0):
    loc = scope.locator("button.widget-upload")
    if description is not None:
        loc = loc.filter(has_text=re.compile(rf"^\s*{re.escape(description)} \(\d+\)\s*$"))
    return loc.nth(nth)


def set_slider(scope, label: str | None, value: float, *, nth: int = 0) -> None:
    """Set an Int/FloatSlider by typing into its readout (ipywidgets 8: an editable readout), like a person
    who clicks the number, types and presses Enter."""
    box = _labelled(scope, ".widget-slider", label, nth)
    readout = box.locator(".widget-readout")
    readout.click()
    readout.press("Control+A")
    readout.type(str(value))
    readout.press("Enter")


def widget_output_text(scope, *, nth: int = 0) -> str:
    """Visible text of the ``nth`` ipywidgets Output widget in scope."""
    return scope.locator(".widget-output").nth(nth).inner_text()


def widget_texts(scope) -> list[str]:
    """Visible texts of labels, HTML/Label widgets and Output widgets in scope, in page order."""
    return scope.locator(".widget-label, .widget-html-content, .widget-output").all_inner_texts()
