"""A run folder's files written whole or not at all, and read back with every problem named.

:func:`staged` gives a new hidden sibling folder to write into; when the writer is done, it adds
``manifest.json`` (each file's size and SHA-256) and renames the folder into place, so a run that fails
half-way leaves no run folder behind. Rewriting an existing run folder marks it ``.incomplete`` first and
moves the files in one by one, the manifest last. :func:`check_complete` refuses a folder left marked or missing a file,
:func:`check_manifest` one whose files do not match its manifest (cut short, emptied, changed); :func:`read_json` and
:func:`read_jsonl` turn a missing, unreadable or malformed file into an
:class:`~mmrag_lab.errors.EvaluationError` naming the file, the line and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mmrag_lab.errors import EvaluationError

MANIFEST = "manifest.json"
INCOMPLETE = ".incomplete"
FORMAT = 1


@contextmanager
def staged(out: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write a run into; on success it becomes ``out`` with a manifest."""
    final = Path(os.path.abspath(out))
    rewrite = final.is_dir()  # then the files move in one by one, from a folder inside it (same disk)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = (
        final if rewrite else final.parent
    ) / f".{final.name}.partial-{os.getpid()}-{os.urandom(4).hex()}"
    stage.mkdir()
    try:
        yield stage
        write_json(stage / MANIFEST, {"format": FORMAT, "files": _inventory(stage)})
        _commit(stage, final, rewrite)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON; a lone surrogate (a file name that is not UTF-8) is kept as ``\\udcXX``."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """UTF-8 text; a lone surrogate becomes its ``\\uXXXX`` escape, which JSON reads back as the same string."""
    path.write_bytes(text.encode("utf-8", errors="backslashreplace"))


def check_complete(folder: Path, required: tuple[str, ...]) -> None:
    """Refuse a run folder that is not whole: left half-rewritten, a file missing, or not as its manifest says."""
    redo = f"run the evaluation again with --out {folder}"
    if (folder / INCOMPLETE).exists():
        raise EvaluationError(f"{folder} is an incomplete run (its rewrite was interrupted); {redo}.")
    missing = [name for name in required if not (folder / name).is_file()]
    if missing:
        raise EvaluationError(f"{folder} is an incomplete run: {', '.join(missing)} missing; {redo}.")


def check_manifest(folder: Path, required: tuple[str, ...]) -> None:
    """Refuse files that differ from what the run wrote (its manifest): cut short at a line, emptied, changed."""
    redo = f"run the evaluation again with --out {folder}"
    if not (folder / MANIFEST).is_file():
        return  # written before manifests existed: every required file is there, which is all we can check
    files = read_json(folder, MANIFEST).get("files")
    if not isinstance(files, dict):
        raise EvaluationError(f"{folder / MANIFEST}: no 'files' list; {redo}.")
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise EvaluationError(f"{path}: missing, though the run's manifest lists it; {redo}.")
        size = path.stat().st_size
        if size != expected.get("bytes"):
            raise EvaluationError(
                f"{path}: {size:,} bytes, but the run wrote {expected.get('bytes'):,} (truncated or changed "
                f"since); {redo}."
            )
        if name in required and _sha256(path) != expected.get("sha256"):
            raise EvaluationError(f"{path}: its content changed since the run wrote it; {redo}.")


def read_json(folder: Path, name: str) -> dict[str, Any]:
    """``folder/name`` as a JSON object, or an error naming the file and what is wrong with it."""
    path = folder / name
    try:
        data = json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise damaged(path, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise damaged(path, f"a JSON {type(data).__name__}, not an object")
    return data


def read_jsonl(folder: Path, name: str) -> list[dict[str, Any]]:
    """``folder/name`` as one JSON object per non-blank line, or an error naming the file and the line."""
    path = folder / name
    records = []
    for number, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise damaged(path, f"line {number} is not valid JSON ({exc.msg}; cut short?)") from None
        if not isinstance(record, dict):
            raise damaged(path, f"line {number} is a JSON {type(record).__name__}, not an object")
        records.append(record)
    return records


def damaged(path: Path, problem: str) -> EvaluationError:
    """The error for a run file that cannot be used: the file, the problem, what to do."""
    return EvaluationError(
        f"{path}: {problem}. The run folder is damaged; run the evaluation again with --out {path.parent}."
    )


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise damaged(path, "missing") from None
    except OSError as exc:
        raise damaged(path, f"cannot be read ({exc.strerror or exc})") from None
    if not data.strip():
        raise damaged(path, "empty")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise damaged(path, f"not UTF-8 text (byte {exc.start})") from None


def _inventory(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != MANIFEST
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _commit(stage: Path, final: Path, rewrite: bool) -> None:
    """``stage`` becomes ``final``: one rename when ``final`` is new, else file by file, the manifest last."""
    if not rewrite:
        try:
            os.rename(stage, final)
            return
        except OSError:  # made meanwhile by another process: rewrite it
            if not final.is_dir():
                raise
    marker = final / INCOMPLETE
    marker.touch()
    (final / MANIFEST).unlink(missing_ok=True)
    for item in sorted(stage.iterdir(), key=lambda p: p.name == MANIFEST):
        os.replace(item, final / item.name)
    marker.unlink()
