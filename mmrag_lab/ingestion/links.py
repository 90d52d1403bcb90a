"""Where a symlink met by the scan leads, and why it is not read when it is not.

A symlink is read only when it leads to a file inside the scanned folder. Every way of failing to get
there is a reason for the report, never an exception: a link whose target does not exist, a loop, a link
through a folder this process may not enter, a link whose own text may not be read (``readlink`` is
denied for ``/proc/PID/cwd`` of another user's process, which ``mmrag ingest /`` meets).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkVerdict:
    """``follow``: read the link as a file; ``problem``: the reason to report (None: pass over quietly)."""

    follow: bool
    problem: str | None = None


QUIET = LinkVerdict(False)


def judge_link(link: bytes, root: bytes, image_named: bool) -> LinkVerdict:
    """What to do with the symlink at ``link`` found under ``root`` (both real paths, as bytes).

    Links to folders inside ``root`` are passed over quietly (the walk reaches those folders at their real
    place); so are links without an image name that lead out of the folder to something not a folder.
    """
    try:
        target = os.path.realpath(link)
    except OSError as exc:
        return LinkVerdict(False, f"symlink cannot be followed: {_why(exc)}")
    if not _inside(target, root):
        leads_to_folder = os.path.isdir(target)
        if image_named or leads_to_folder:
            return LinkVerdict(False, "symlink leads outside the folder; not followed")
        return QUIET
    try:
        info = os.stat(target)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return LinkVerdict(False, "dangling symlink: its target does not exist")
        return LinkVerdict(False, f"symlink cannot be followed: {_why(exc)}")
    if stat.S_ISDIR(info.st_mode) or not image_named:
        return QUIET
    return LinkVerdict(True)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "it loops back on itself"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"a folder or link on its way may not be read ({exc.strerror})"
    return exc.strerror or str(exc)


def _inside(path: bytes, root: bytes) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep.encode()) + os.sep.encode())
