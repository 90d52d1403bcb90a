"""Builders shared by the bad-input tests of the CLI, the API, the backends and the settings.

The corpus is generated: each builder turns a rule (a range, a naming rule, a file kind) into the values
just outside it, so a new rule gets its hostile inputs without anyone picking them by hand.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from badimages import encoded, photo
from PIL import Image

from mmrag_lab.config import Config
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store

TRACEBACK = "Traceback (most recent call last)"
COLLECTION = "badinput"

NEVER_LOADED = "the encoder was loaded"  # what the no_model fixture raises


def small_collection(folder: Path, sample_dir: Path, encoder, count: int = 6) -> tuple[str, Path]:
    """``count`` sample photos ingested by the tiny encoder into a fresh Lite file: (uri, images folder)."""
    images = folder / "images"
    images.mkdir(parents=True)
    for source in sorted(sample_dir.rglob("*.jpg"))[:count]:
        shutil.copy(source, images / source.name)
    uri = str(folder / "lite.db")
    config = Config.load(env={}, milvus_uri=uri, collection=COLLECTION, encoder="tiny", weights="untrained")
    ingest(images, config=config, encoder=encoder, options=IngestOptions(workers=0), progress=False)
    return uri, images


def snapshot(uri: str, collection: str = COLLECTION) -> tuple[int, list[tuple]]:
    """The row count and every row's (id, path, content hash, metadata): equal before and after a refusal."""
    config = Config.load(env={}, milvus_uri=uri, collection=collection)
    with Store.open(config) as store:
        count = store.count()
        rows = list(store.iterate(("path", "content_hash", "meta")))
    return count, sorted((r["id"], r["path"], r["content_hash"], repr(r.get("meta"))) for r in rows)


def out_of_range(low: int, high: int | None) -> list[str]:
    """Whole numbers just outside ``[low, high]``, a huge one, and texts that are no whole number."""
    values = {low - 1, low - 10, -(2**31)}
    if high is not None:
        values |= {high + 1, high * 1000}
    return [str(v) for v in sorted(values)] + ["1.5", "abc", "", "1e3", "0x10"]


def bad_seconds() -> list[str]:
    """Values no timeout may take."""
    return ["0", "-1", "-0.5", "nan", "inf", "abc", ""]


def bad_collection_names() -> list[str]:
    """Names that break Milvus' rule (letter or underscore first; letters, digits, underscores; <= 255)."""
    return ["1abc", "a b", "a-b", "a.b", "naïve", "a;drop", "x" * 256, "_" + "y" * 255, "tab\there", "é"]


def bad_devices() -> list[str]:
    """Device names of the wrong form or that cannot exist on a CPU-only test machine."""
    return ["foo", "gpu", "cuda:x", "cuda:-1", "cuda:7", "cuda", "mps:0", "cpu:0:0", "CUDA 0"]


def bad_schemes() -> list[str]:
    """URIs whose scheme Milvus does not speak."""
    return [f"{scheme}://host/x.db" for scheme in ("ftp", "foo", "s3", "file", "ws", "redis", "sftp")]


def bad_shards() -> list[str]:
    """Shard specs that are not ``I/N`` with ``0 <= I < N``."""
    return ["1", "a/b", "3/3", "4/3", "-1/2", "0/0", "1/0", "/", "0/4/1", "0.5/2", " / "]


def bad_query_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Query "images" that are not one: name -> (path, fragment of the message)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "folder": (folder / "a_folder", "is a folder"),
        "missing": (folder / "missing.jpg", "does not exist"),
        "text": (folder / "notes.jpg", "not a recognised image format"),
        "empty": (folder / "empty.jpg", "empty file"),
        "truncated": (folder / "truncated.jpg", "truncated"),
        "bomb": (folder / "bomb.png", "decompression bomb"),
        "fifo": (folder / "pipe.jpg", "not a regular file"),
    }
    made["folder"][0].mkdir(exist_ok=True)
    made["text"][0].write_text("these are notes, not a picture\n" * 20)
    made["empty"][0].write_bytes(b"")
    made["truncated"][0].write_bytes(encoded(photo(width=200, height=150), "JPEG")[:900])
    made["bomb"][0].write_bytes(encoded(Image.new("1", (10_000, 9_000)), "PNG"))
    if not made["fifo"][0].exists():
        os.mkfifo(made["fifo"][0])
    return made


def assert_refused(code: int, text: str, fragments: list[str], expected: int = 2) -> None:
    """The exit code, no traceback, and the message names each fragment."""
    assert TRACEBACK not in text, text
    assert code == expected, text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
