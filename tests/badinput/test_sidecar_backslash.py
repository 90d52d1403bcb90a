"""Sidecar keys with a backslash: the exact file name when the folder has such a file (a legal name on
Linux), else a Windows path (``sub\\a.jpg`` is ``sub/a.jpg``), through the real ``mmrag ingest``."""

from __future__ import annotations

import csv
import json

from badimages import encoded, photo

from mmrag_lab.cli import main
from mmrag_lab.store.vector_store import Store


def test_a_backslash_key_goes_to_the_file_of_that_exact_name_and_else_reads_as_a_path(
    store_uri, tmp_path, capsys
):
    folder = tmp_path / "photos"
    (folder / "back").mkdir(parents=True)
    (folder / "sub").mkdir()
    names = ["back\\slash.jpg", "back/slash.jpg", "sub/a.jpg", "\\odd.jpg", "plain.jpg", " lead.jpg"]
    for seed, name in enumerate(names):
        (folder / name).write_bytes(encoded(photo(seed=seed), "JPEG"))
    sidecar = tmp_path / "meta.csv"
    lines = [
        ("back\\slash.jpg", "exact"),  # both back\slash.jpg and back/slash.jpg exist: the exact name wins
        ("sub\\a.jpg", "windows"),  # no file of that name: a Windows path
        ("\\odd.jpg", "odd"),  # an absolute path as a Windows path, but a file has this exact name
        ("..\\gone.jpg", "gone"),  # no such file: refused as a path that leaves the folder
        ("plain.jpg", "plain"),
        (" lead.jpg", "lead"),  # a file name with a leading space, named exactly
        (" plain.jpg", "plain"),  # no such file: plain.jpg, listed again with the same values
        ("x\\y.jpg", "one"),  # no such file: x/y.jpg, listed twice with different values
        ("x/y.jpg", "two"),
    ]
    with sidecar.open("w", newline="") as handle:
        csv.writer(handle).writerows([("file", "tag"), *lines])
    report = tmp_path / "report.json"
    args = ["ingest", str(folder), "--uri", store_uri.uri, "--collection", store_uri.collection, "--encoder",
            "tiny", "--weights", "untrained", "--device", "cpu", "--workers", "0", "--no-progress",
            "--metadata", str(sidecar), "--report", str(report)]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()
    with Store.open(store_uri.config()) as store:
        tags = {row["rel_path"]: row["meta"].get("tag") for row in store.iterate(("rel_path", "meta"))}
    assert tags == {"back\\slash.jpg": "exact", "back/slash.jpg": None, "sub/a.jpg": "windows",
                    "\\odd.jpg": "odd", "plain.jpg": "plain", " lead.jpg": "lead"}  # fmt: skip
    done = json.loads(report.read_text())
    assert done["metadata_unmatched"] == []
    problems = {item["key"]: item["reason"] for item in done["metadata_problems"]}
    assert problems.keys() == {"../gone.jpg", "x/y.jpg", "plain.jpg"}
    assert problems["plain.jpg"] == "listed 2 times (line 6, line 8) with the same values; used once"
    assert problems["../gone.jpg"].startswith("leaves the image folder")
    assert problems["x/y.jpg"].startswith("listed 2 times (line 9, line 10) with different values")
