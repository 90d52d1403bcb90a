"""Finding the images under a folder, and hashing their bytes.

A file is known by its path, not its bytes: its row is keyed by the folder's root name and the file's path
relative to that folder (:func:`~mmrag_lab.store.schema.row_id`). The sha256 of its bytes
(:func:`content_id`) is kept as the row's ``content_hash``: it decides whether a file must be encoded
again, and finds identical files, which are encoded once.

Paths are handled as bytes, so file names that are not valid UTF-8 work. Each file also gets a
*display* path: UTF-8 with undecodable bytes written as ``\\xNN``. That is what the store and the report
keep; :func:`to_fs_path` turns it back into the real path.

The walk never leaves the folder and never loops: symlinked folders are not followed (those inside the
folder are walked through their real location anyway), symlinked files are followed only when they lead
to a file inside the folder. Names starting with a dot (``.ipynb_checkpoints``, macOS ``._x.jpg``) are
skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mmrag_lab.images import IMAGE_SUFFIXES
from mmrag_lab.ingestion.links import judge_link

_SUFFIXES = frozenset(os.fsencode(s) for s in IMAGE_SUFFIXES)
_ESCAPE = re.compile(r"\\x([89a-f][0-9a-f])")
HASH_CHUNK = 1 << 20
# A file whose status changed less than this before it was hashed may change again within the filesystem's
# timestamp granularity without its stamp showing it: its read hashes the bytes again (git's "racy" rule).
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class ImageFile:
    """One image file found by :func:`scan_images`.

    Attributes:
        path: The exact filesystem path, as bytes.
        display: Printable absolute path (see the module docstring).
        rel: Printable path relative to the scanned folder, ``/``-separated.
        size: File size in bytes.
    """

    path: bytes
    display: str
    rel: str
    size: int


@dataclass
class ScanResult:
    """Images found, and image-named entries that cannot be read, each with its reason."""

    root: str
    files: list[ImageFile] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class FileStamp:
    """What the filesystem says of a file when it was hashed: inode, size, modification and change times.

    The change time (``st_ctime_ns``) moves on every write and cannot be set back by a program, so a file
    whose stamp is the same at read time holds the bytes that were hashed.
    """

    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    taken_ns: int = 0

    @classmethod
    def of(cls, info: os.stat_result) -> FileStamp:
        return cls(info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, time.time_ns())

    def vouches_for(self, now: FileStamp, length: int) -> bool:
        """True when a read that found ``now`` and ``length`` bytes needs no second hash."""
        same = (self.inode, self.size, self.mtime_ns, self.ctime_ns) == (
            now.inode, now.size, now.mtime_ns, now.ctime_ns
        )  # fmt: skip
        return same and length == self.size and self.ctime_ns < self.taken_ns - RACY_NS


def display_path(path: bytes | str) -> str:
    """A printable form of a filesystem path: UTF-8, undecodable bytes as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def to_fs_path(display: str) -> bytes:
    """The filesystem path for a display path made by :func:`display_path`."""
    literal = os.fsencode(display)
    if "\\x" not in display or os.path.lexists(literal):
        return literal
    return _ESCAPE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), display).encode(
        "utf-8", "surrogateescape"
    )


def scan_images(folder: str | os.PathLike) -> ScanResult:
    """Find image files (by suffix, case-insensitive) under ``folder``, recursively, in sorted order."""
    root = os.path.realpath(os.fsencode(folder))
    result = ScanResult(root=display_path(root))
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name, reverse=True)
        except OSError as exc:
            result.problems.append(_problem(directory, f"cannot list folder ({exc.strerror})"))
            continue
        for entry in entries:
            if entry.name.startswith(b"."):
                continue
            try:  # an entry that cannot even be looked at is reported; the walk goes on
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif _is_image_name(entry.name) or entry.is_symlink():
                    _add_entry(entry, root, result)
            except OSError as exc:
                result.problems.append(_problem(entry.path, f"cannot read entry ({exc.strerror or exc})"))
    result.files.sort(key=lambda f: f.path)
    return result


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files under ``folder``, sorted, as paths below it as given.

    The one way the package lists a folder's images: the walk of :func:`scan_images` (hidden names such as
    ``.ipynb_checkpoints`` skipped, symlinks kept inside the folder) without its problem report.
    """
    return [Path(folder) / as_path(f.rel) for f in scan_images(folder).files]


def content_id(data: bytes) -> str:
    """The content hash of an image: the sha256 hex digest of its bytes (a row's ``content_hash``)."""
    return hashlib.sha256(data).hexdigest()


def hash_file(path: bytes) -> str:
    """:func:`content_id` of a file, read in chunks."""
    return hash_stamped(path)[0]


def hash_stamped(path: bytes) -> tuple[str, FileStamp]:
    """:func:`content_id` of a file and its :class:`FileStamp`, taken before the bytes are read."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        stamp = FileStamp.of(os.fstat(handle.fileno()))
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), stamp


def hash_threads() -> int:
    """Threads that read and hash: reading and sha256 release the GIL, so one per core, 4 to 16."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(4, min(16, cores))


def hash_files(files: list[ImageFile], threads: int = 4) -> list[str | OSError]:
    """Hash many files on a few threads (hashing and reading release the GIL); errors are returned."""
    return [r if isinstance(r, OSError) else r[0] for r in hash_files_stamped(files, threads)]


def hash_files_stamped(files: list[ImageFile], threads: int = 4) -> list[tuple[str, FileStamp] | OSError]:
    """:func:`hash_stamped` of many files on a few threads; errors are returned."""

    def one(item: ImageFile) -> tuple[str, FileStamp] | OSError:
        try:
            return hash_stamped(item.path)
        except OSError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return list(pool.map(one, files))


def _add_entry(entry: os.DirEntry, root: bytes, result: ScanResult) -> None:
    if entry.is_symlink():
        verdict = judge_link(entry.path, root, _is_image_name(entry.name))
        if verdict.problem is not None:
            result.problems.append(_problem(entry.path, verdict.problem))
        if not verdict.follow:
            return
    try:
        info = os.stat(entry.path)
    except OSError as exc:
        result.problems.append(_problem(entry.path, f"cannot read file ({exc.strerror})"))
        return
    if not stat.S_ISREG(info.st_mode):
        result.problems.append(_problem(entry.path, "not a regular file (a FIFO, socket or device)"))
        return
    display = display_path(entry.path)
    rel = display_path(os.path.relpath(entry.path, root)).replace(os.sep, "/")
    result.files.append(ImageFile(entry.path, display, rel, info.st_size))


def _problem(path: bytes, reason: str) -> dict[str, str]:
    return {"path": display_path(path), "reason": reason}


def _is_image_name(name: bytes) -> bool:
    return os.path.splitext(name)[1].lower() in _SUFFIXES


def as_path(display: str) -> Path:
    """A :class:`~pathlib.Path` for a display path (non-UTF-8 names via surrogate escapes)."""
    return Path(os.fsdecode(to_fs_path(display)))


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (0 <= I < N) as ``(I, N)``; raises ValueError with what is wrong."""
    index, sep, count = text.partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"a shard is I/N with 0 <= I < N, e.g. 0/4; got {text!r}")
    index_n, count_n = int(index), int(count)
    if not 0 <= index_n < count_n:
        raise ValueError(f"a shard is I/N with 0 <= I < N, e.g. 0/4; got {text!r}")
    return index_n, count_n


def in_shard(rel: str, shard: tuple[int, int]) -> bool:
    """Whether the file at ``rel`` (relative to the ingested folder) belongs to shard ``(I, N)``.

    The choice hangs on the relative path alone, so every machine and GPU that scans the same folder (at any
    mount point) agrees, and shard ``I + N * j`` of ``N * M`` is shard ``j`` of ``M`` within shard ``I`` of ``N``.
    """
    index, count = shard
    digest = hashlib.blake2b(rel.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count == index


def shard_scan(scan: ScanResult, shard: tuple[int, int]) -> ScanResult:
    """The part of ``scan`` (files and problems) that belongs to ``shard``."""
    prefix = scan.root.rstrip("/") + "/"
    problems = [p for p in scan.problems if in_shard(p["path"].removeprefix(prefix), shard)]
    return ScanResult(scan.root, [f for f in scan.files if in_shard(f.rel, shard)], problems)
