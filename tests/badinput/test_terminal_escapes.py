"""File names and sidecar values made to attack a terminal (clear the screen, set the window's title, hide
text, split a row) printed by the real ``mmrag ingest``, ``search`` and ``info``: every control character
comes out as its visible escape, and each hit is one row."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_inputs import TRACEBACK

REPO = Path(__file__).resolve().parents[2]
NAMES = ["clear\x1b[2J.jpg", "title\x1b]0;pwned\x07.jpg", "split\nrow.jpg", "hide\rme.jpg", "rtl\u202egpj.jpg",
         "c1\x9bcsi.jpg"]  # fmt: skip
RAW = ("\x1b", "\x07", "\r", "\u202e", "\x9b")


def _cli(*argv: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "mmrag_lab.cli", *argv], capture_output=True, text=True,
                          env=env, timeout=300, errors="surrogateescape")  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def crafted(tmp_path_factory, sample_dir):
    root = tmp_path_factory.mktemp("escapes")
    images = root / "images"
    images.mkdir()
    sources = sorted(sample_dir.rglob("*.jpg"))
    for name, source in zip(NAMES, sources, strict=False):
        shutil.copy(source, images / name)
    sidecar = root / "meta.jsonl"
    sidecar.write_text('{"file": "clear\\u001b[2J.jpg", "label": "bell\\u0007\\u001b]0;owned\\u0007 end"}\n')
    uri = str(root / "lite.db")
    common = ["--uri", uri, "--collection", "escapes", "--encoder", "tiny"]
    code, text = _cli("ingest", str(images), *common, "--weights", "untrained", "--device", "cpu",
                      "--metadata", str(sidecar), "--workers", "0", "--no-progress")  # fmt: skip
    assert code == 0, text
    return root, images, common, text


def _assert_shown_not_obeyed(text: str) -> None:
    assert TRACEBACK not in text
    for char in RAW:
        assert char not in text, f"{char!r} reached the terminal"


@pytest.mark.slow
def test_ingest_prints_the_names_escaped(crafted):
    _, _, _, printed = crafted
    _assert_shown_not_obeyed(printed)


@pytest.mark.slow
def test_search_prints_one_row_per_hit_with_names_and_values_escaped(crafted, tmp_path):
    _, images, common, _ = crafted
    code, text = _cli("search", *common, "--device", "cpu", "--text", "a photo", "-k", str(len(NAMES)),
                      "--out", str(tmp_path / "out"))  # fmt: skip
    assert code == 0, text
    _assert_shown_not_obeyed(text)
    rows = [line for line in text.splitlines() if line[:4].strip().isdigit()]
    assert len(rows) == len(NAMES), text  # "split\nrow.jpg" did not split its row
    shown = "\n".join(rows)
    for visible in ("clear\\x1b[2J.jpg", "title\\x1b]0;pwned\\x07.jpg", "split\\nrow.jpg", "hide\\rme.jpg",
                    "rtl\\u202egpj.jpg", "c1\\x9bcsi.jpg", "label=bell\\x07\\x1b]0;owned\\x07 end"):  # fmt: skip
        assert visible in shown, visible


@pytest.mark.slow
def test_info_prints_the_folder_and_keys_escaped(crafted):
    _, _, common, _ = crafted
    code, text = _cli("info", *common)
    assert code == 0, text
    _assert_shown_not_obeyed(text)
