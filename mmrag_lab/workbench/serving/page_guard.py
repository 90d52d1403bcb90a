"""One top-level guard for the pages people meet without a notebook: an error becomes one readable line.

The app's own actions (Search, Rerank, uploads) already turn their errors into messages; this guard covers
what is left, such as building the page itself, so that a visitor never sees a traceback. Our own errors
say what to do; anything else is a bug, whose traceback goes to a log file (:func:`mmrag_lab.bugs.log_unexpected`)
named in the line.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from mmrag_lab.bugs import log_unexpected
from mmrag_lab.errors import MmragError

log = logging.getLogger(__name__)


def one_line(exc: BaseException) -> str:
    """The error as one line: our own errors say what to do; anything else names its type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, MmragError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def message_box(title: str, text: str, level: str = "error") -> widgets.HTML:
    """A short notice as a widget: a title and one paragraph (escaped)."""
    color = {"info": "#1a7f37", "warning": "#9a6700", "error": "#c62828"}[level]
    return widgets.HTML(
        f'<div class="mmrag-notice" style="border-left:4px solid {color};padding:4px 12px">'
        f"<h3>{html.escape(title)}</h3><p>{html.escape(text)}</p></div>"
    )


def guarded(build: Callable[[], Any], what: str) -> Any:
    """``build()``, or a :func:`message_box` with one line when it raises (the traceback goes to the log)."""
    try:
        return build()
    except MmragError as exc:  # the page is the visitor's surface: one line, never a traceback
        log.debug("%s failed", what, exc_info=True)
        return message_box(f"{what} failed", one_line(exc))
    except Exception as exc:
        return message_box(f"{what} failed", log_unexpected(exc, f"the app page ({what})"))
