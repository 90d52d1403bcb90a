"""The shared argument checks: each value within its range, each refusal naming the setting as the user spelt it."""

from __future__ import annotations

import math
import os

import pytest

from mmrag_lab import checks
from mmrag_lab.errors import ConfigError


def test_whole_numbers_from_ints_texts_and_whole_floats():
    assert checks.whole_number("--batch-size", " 32 ") == 32 and checks.whole_number("n", 4.0) == 4
    assert checks.port("--port", 8866) == 8866
    for bad in (True, 0, 2.5, "x", None, 10**6):
        with pytest.raises(ConfigError, match=r"--batch-size must be a whole number from 1 to 65,536"):
            checks.whole_number("--batch-size", bad, high=65_536)
    with pytest.raises(ConfigError, match="from 1 to 65,535, got 0"):
        checks.port("--port", 0)


def test_seconds_sizes_fractions_and_amounts_are_finite():
    assert checks.seconds("t", "2.5") == 2.5 and checks.seconds("t", 0, allow_zero=True) == 0.0
    assert (
        checks.megabytes("m", 1) == 1.0
        and checks.fraction("f", "0.25") == 0.25
        and checks.amount("a", 0, "USD") == 0
    )
    for check, bad in [
        (checks.seconds, 0), (checks.seconds, math.nan), (checks.seconds, math.inf), (checks.seconds, True),
        (checks.megabytes, -1), (checks.fraction, 1.5), (checks.fraction, "half"),
    ]:  # fmt: skip
        with pytest.raises(ConfigError, match="^v must be"):
            check("v", bad)
    with pytest.raises(ConfigError, match="price must be USD per 1M tokens, a finite number 0 or more"):
        checks.amount("price", -0.5, "USD per 1M tokens")


def test_choices_devices_and_collection_names():
    assert checks.one_of("--metric", " COSINE ", ("cosine", "ip")) == "cosine"
    assert [checks.device_name("d", d) for d in ("CPU", "cuda:1", "auto", "mps")] == [
        "cpu",
        "cuda:1",
        "auto",
        "mps",
    ]
    assert checks.collection_name("c", "_my_images2") == "_my_images2"
    with pytest.raises(ConfigError, match="must be one of cosine, ip, got 'l1'"):
        checks.one_of("--metric", "l1", ("cosine", "ip"))
    with pytest.raises(ConfigError, match="auto, cpu, cuda, cuda:N or mps, got 'gpu0'"):
        checks.device_name("--device", "gpu0")
    for bad in ("2images", "my-images", "", "a" * 256):
        with pytest.raises(ConfigError, match="is not a name Milvus accepts"):
            checks.collection_name("--collection", bad)


def test_uris_and_urls():
    assert checks.milvus_uri("--uri", " ./lite.db ") == "./lite.db"
    assert checks.milvus_uri("--uri", "https://host:19530") == "https://host:19530"
    assert checks.http_url("--llm-base-url", "http://localhost:8000/v1") == "http://localhost:8000/v1"
    with pytest.raises(ConfigError, match="'ftp':// is not one Milvus speaks"):
        checks.milvus_uri("--uri", "ftp://host/db")
    with pytest.raises(ConfigError, match="--uri is empty"):
        checks.milvus_uri("--uri", "  ")
    with pytest.raises(ConfigError, match=r"must be an http\(s\)://host"):
        checks.http_url("--llm-base-url", "localhost:8000")


def test_instructions_have_a_length_limit():
    assert (
        checks.instruction("instruction", None) is None and checks.instruction("i", "blue", limit=4) == "blue"
    )
    with pytest.raises(ConfigError, match="instruction has 5 characters; the limit is 4"):
        checks.instruction("instruction", "bluer", limit=4)


def test_output_folders_and_files(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    assert checks.output_folder("--out", tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert checks.output_file("--out", tmp_path / "report.md") == tmp_path / "report.md"
    with pytest.raises(ConfigError, match="is an existing file; name a folder"):
        checks.output_folder("--out", tmp_path / "file.txt")
    with pytest.raises(ConfigError, match="which is a file; name a folder"):
        checks.output_folder("--out", tmp_path / "file.txt" / "run")
    with pytest.raises(ConfigError, match="is a folder; name a file"):
        checks.output_file("--out", tmp_path)
    with pytest.raises(ConfigError, match="--out is empty"):
        checks.output_file("--out", "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_folder_that_takes_no_file_is_refused_before_any_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="nothing can be written in"):
            checks.output_folder("--out", locked / "run")
    finally:
        locked.chmod(0o700)


def test_existing_files(tmp_path):
    present = tmp_path / "q.jsonl"
    present.write_text("{}")
    assert checks.existing_file("--queries", str(present)) == present
    with pytest.raises(ConfigError, match="does not exist; check the path"):
        checks.existing_file("--queries", tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="is a folder; give a file"):
        checks.existing_file("--queries", tmp_path)
