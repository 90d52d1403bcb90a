"""The last resort for bugs: an unexpected exception becomes one readable line and a log file.

Expected failures are :class:`~mmrag_lab.errors.MmragError` s, whose messages say what to do; they never come
here. Anything else is a bug (or a library failing in a way nobody foresaw): :func:`log_unexpected` writes
its traceback to a new file under ``MMRAG_LOG_DIR`` (default ``~/.cache/mmrag_lab/logs``) and returns the
line to show, which names the exception and that file. The CLI's ``main`` and the app's callbacks both use
it, so a user never meets a traceback and always has one to attach to a bug report.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from mmrag_lab.redaction import redact

LOG_DIR_VAR = "MMRAG_LOG_DIR"
MAX_LINE = 300


def log_dir() -> Path:
    """Where tracebacks go: ``MMRAG_LOG_DIR``, else ``<XDG_CACHE_HOME or ~/.cache>/mmrag_lab/logs``."""
    given = os.environ.get(LOG_DIR_VAR)
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mmrag_lab" / "logs"


def log_unexpected(exc: BaseException, where: str) -> str:
    """Write ``exc``'s traceback to a new log file and return one line naming the error and the file.

    Args:
        exc: The unexpected exception.
        where: What was running (``mmrag search``, ``the app's search button``).

    The line never holds more than the exception's first line; the file holds everything. If no log can be
    written (a read-only home), the traceback goes to the system's temporary folder instead.
    """
    text = redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{os.getpid()}-{where.replace(' ', '_').replace('/', '_')}.log"
    path = _write(name, f"{where}\n{redact(' '.join(sys.argv))}\n\n{text}")
    first = redact((str(exc).strip().splitlines() or [""])[0][:MAX_LINE])
    summary = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return (
        f"{where}: unexpected error ({summary}). This is a bug, not a mistake in your input; the full "
        f"traceback is in {path}. Please attach that file when you report it."
    )


def _write(name: str, text: str) -> Path:
    for folder in (log_dir(), Path(tempfile.gettempdir()) / "mmrag_lab-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8", errors="backslashreplace")
            return path
        except OSError:
            continue
    return Path("<no log written: no writable folder>")
