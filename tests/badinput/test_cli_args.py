"""``mmrag search | ingest | eval`` given generated hostile arguments: exit 2, one message naming the
argument, no traceback, the collection untouched, and the encoder never loaded (the mistake is found in
milliseconds, not after the model's load). The guard turns a bug into one line plus a log file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cli_inputs import (
    TRACEBACK,
    assert_refused,
    bad_collection_names,
    bad_devices,
    bad_query_files,
    bad_schemes,
    bad_seconds,
    bad_shards,
    out_of_range,
    small_collection,
    snapshot,
)

from mmrag_lab.cli import main
from mmrag_lab.retrieval import query as query_module

NEVER_LOADED = "the encoder was loaded"


@pytest.fixture(scope="module")
def lite(tmp_path_factory, sample_dir, tiny_encoder):
    folder = tmp_path_factory.mktemp("cli_args")
    uri, images = small_collection(folder, sample_dir, tiny_encoder)
    return uri, images, sorted(images.glob("*.jpg"))[0], snapshot(uri)


@pytest.fixture()
def no_model(monkeypatch):
    """Make any encoder load fail loudly: a refused argument must be found before it."""
    import mmrag_lab.encoders as encoders

    def refuse(*args, **kwargs):
        raise RuntimeError(NEVER_LOADED)

    query_module._load_encoder.cache_clear()
    monkeypatch.setattr(encoders, "load_encoder", refuse)
    yield
    query_module._load_encoder.cache_clear()


def run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _search(lite, tmp_path, *extra: str) -> list[str]:
    uri, _, query, _ = lite
    base = ["search", "--uri", uri, "--collection", "badinput", "--device", "cpu"]
    has_query = any(flag in extra for flag in ("--image", "--text"))
    return [*base, "--out", str(tmp_path / "out"), *([] if has_query else ["--image", str(query)]), *extra]


def _cases() -> list[tuple[str, list[str], list[str]]]:
    """(case id, extra arguments, fragments the message must hold), generated from each rule."""
    cases = [(f"k={v}", ["-k", v], ["-k" if not v.lstrip("-").isdigit() else "-k must be"])
             for v in out_of_range(1, 16384)]  # fmt: skip
    cases += [(f"device={v}", ["--device", v], ["--device", v]) for v in bad_devices()]
    cases += [(f"collection={v[:12]}", ["--collection", v], ["--collection", "not a name Milvus accepts"])
              for v in bad_collection_names()]  # fmt: skip
    cases += [(f"uri={v}", ["--uri", v], ["--uri", "scheme"]) for v in bad_schemes()]
    cases += [(f"llm-timeout={v}", ["--llm-timeout", v], ["--llm-timeout"]) for v in bad_seconds()]
    cases += [
        (f"connect-timeout={v}", ["--connect-timeout", v], ["--connect-timeout"]) for v in bad_seconds()
    ]
    cases += [(f"llm-retries={v}", ["--llm-retries", v], ["--llm-retries"]) for v in out_of_range(0, 20)]
    cases += [(f"llm-base-url={v}", ["--llm-base-url", v], ["--llm-base-url", "http(s)://"])
              for v in ("localhost:8000", "ftp://x/v1", "http://", "not a url")]  # fmt: skip
    cases += [("base-url (old spelling)", ["--base-url", "ftp://x/v1"], ["--base-url", "use --llm-base-url"])]
    for size in (10_001, 50_000, 1_000_000):
        cases.append((f"instruction={size}", ["--instruction", "x" * size], ["instruction", f"{size:,}"]))
        cases.append((f"text={size}", ["--text", "x" * size], ["text", f"{size:,}"]))
    return cases


@pytest.mark.parametrize("extra,fragments", [c[1:] for c in _cases()], ids=[c[0] for c in _cases()])
def test_search_refuses_each_generated_argument(lite, tmp_path, capsys, no_model, extra, fragments):
    code, text = run(_search(lite, tmp_path, *extra), capsys)
    assert_refused(code, text, fragments)
    assert NEVER_LOADED not in text
    assert not (tmp_path / "out").exists(), "a refused search writes nothing"


@pytest.mark.parametrize("kind", ["folder", "missing", "text", "empty", "truncated", "bomb", "fifo"])
def test_search_refuses_each_query_file_that_is_no_image(lite, tmp_path, capsys, no_model, kind):
    path, fragment = bad_query_files(tmp_path / "queries")[kind]
    code, text = run(_search(lite, tmp_path, "--image", str(path)), capsys)
    assert_refused(code, text, ["--image", fragment])
    assert NEVER_LOADED not in text


@pytest.mark.parametrize("make", ["existing_file", "under_a_file"])
def test_search_refuses_an_out_that_cannot_be_a_folder(lite, tmp_path, capsys, no_model, make):
    (tmp_path / "taken.txt").write_text("mine")
    out = tmp_path / "taken.txt" if make == "existing_file" else tmp_path / "taken.txt" / "sub"
    uri, _, query, _ = lite
    code, text = run(["search", "--uri", uri, "--collection", "badinput", "--image", str(query),
                      "--out", str(out)], capsys)  # fmt: skip
    assert_refused(code, text, ["--out", "taken.txt"])
    assert (tmp_path / "taken.txt").read_text() == "mine"


def test_a_one_pixel_query_is_answered_and_a_missing_out_parent_is_made(lite, tmp_path, capsys):
    from PIL import Image

    Image.new("RGB", (1, 1), (200, 10, 10)).save(tmp_path / "dot.png")
    out = tmp_path / "not" / "yet" / "there"
    uri, _, _, _ = lite
    code, text = run(["search", "--uri", uri, "--collection", "badinput", "--device", "cpu", "--image",
                      str(tmp_path / "dot.png"), "--out", str(out)], capsys)  # fmt: skip
    assert code == 0 and TRACEBACK not in text
    assert (out / "results.png").is_file()


def _ingest_cases() -> list[tuple[str, list[str], list[str]]]:
    cases = [(f"batch-size={v}", ["--batch-size", v], ["--batch-size"]) for v in out_of_range(1, 65536)]
    cases += [(f"workers={v}", ["--workers", v], ["--workers"]) for v in out_of_range(0, 256)]
    cases += [(f"cpu-share={v}", ["--cpu-share", v], ["--cpu-share"]) for v in ("-0.1", "1.5", "nan", "abc")]
    cases += [(f"shard={v}", ["--shard", v], ["shard"]) for v in bad_shards()]
    cases += [(f"dtype={v}", ["--dtype", v], ["--dtype", v]) for v in ("fp8", "int8", "half-ish", "")]
    cases += [(f"device={v}", ["--device", v], ["--device"]) for v in bad_devices()]
    cases += [
        (f"devices={v}", ["--devices", v], ["--devices"]) for v in ("foo", "cuda:0,cuda:0", ",", "gpu1")
    ]
    cases += [(f"collection={v[:12]}", ["--collection", v], ["--collection"]) for v in bad_collection_names()]
    return cases


@pytest.mark.parametrize(
    "extra,fragments", [c[1:] for c in _ingest_cases()], ids=[c[0] for c in _ingest_cases()]
)
def test_ingest_refuses_each_generated_argument(lite, capsys, no_model, extra, fragments):
    uri, images, _, before = lite
    argv = ["ingest", str(images), "--uri", uri, "--collection", "badinput", "--encoder", "tiny",
            "--weights", "untrained", "--no-progress", *extra]  # fmt: skip
    if "--device" not in extra:
        argv += ["--device", "cpu"]
    code, text = run(argv, capsys)
    assert_refused(code, text, fragments)
    assert NEVER_LOADED not in text
    assert snapshot(uri) == before


def test_ingest_refuses_a_report_path_that_is_a_folder(lite, tmp_path, capsys, no_model):
    uri, images, _, before = lite
    code, text = run(["ingest", str(images), "--uri", uri, "--collection", "badinput", "--device", "cpu",
                      "--report", str(tmp_path)], capsys)  # fmt: skip
    assert_refused(code, text, ["--report", "is a folder"])
    assert snapshot(uri) == before


def _eval_cases() -> list[tuple[str, list[str], list[str]]]:
    cases = [(f"k={v}", ["-k", v], ["-k"]) for v in ("0", "-5", "16385")]
    cases += [(f"map-k={v}", ["--map-k", v], ["--map-k"]) for v in ("0", "-1")]
    cases += [(f"subset-k={v}", ["--subset-k", v], ["--subset-k"]) for v in ("0", "99999")]
    cases += [(f"top-n={v}", ["--top-n", v], ["--top-n"]) for v in ("0", "-3", "101")]
    cases += [(f"concurrency={v}", ["--concurrency", v], ["--concurrency"]) for v in ("0", "65", "-1")]
    cases += [("price-in=-1", ["--price-in", "-1", "--price-out", "1"], ["--price-in"])]
    return cases


@pytest.mark.parametrize("extra,fragments", [c[1:] for c in _eval_cases()], ids=[c[0] for c in _eval_cases()])
def test_eval_refuses_each_generated_argument(lite, tmp_path, capsys, no_model, extra, fragments):
    uri, _, _, before = lite
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"query_image": "a.jpg", "instruction": "red", "targets": ["b.jpg"]}\n')
    code, text = run(["eval", str(queries), "--uri", uri, "--collection", "badinput", "--device", "cpu",
                      "--out", str(tmp_path / "run"), *extra], capsys)  # fmt: skip
    assert_refused(code, text, fragments)
    assert NEVER_LOADED not in text and not (tmp_path / "run").exists()
    assert snapshot(uri) == before


def test_the_guard_turns_a_bug_into_one_line_and_a_log_file(lite, tmp_path):
    """A subprocess whose search hits a planted bug: one line naming it and a log file with the traceback."""
    uri, _, query, before = lite
    planted = (
        "import sys, mmrag_lab.retrieval.query as q\n"
        "def bug(*a, **k):\n    raise ZeroDivisionError('planted bug')\n"
        "q.search = bug\n"
        "import mmrag_lab.cli as cli\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    logs = tmp_path / "logs"
    env = {**os.environ, "MMRAG_LOG_DIR": str(logs)}
    done = subprocess.run([sys.executable, "-c", planted, "search", "--uri", uri, "--collection", "badinput",
                           "--image", str(query), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    text = done.stdout + done.stderr
    assert done.returncode == 1 and TRACEBACK not in text
    assert "ZeroDivisionError: planted bug" in text and "This is a bug" in text
    [log] = list(logs.glob("*.log"))
    assert str(log) in text
    logged = log.read_text()
    assert TRACEBACK in logged and 'File "<string>"' in logged and "ZeroDivisionError: planted bug" in logged
    assert 'File "' not in text
    assert snapshot(uri) == before
