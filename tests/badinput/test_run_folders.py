"""Run folders made by a real ``mmrag eval`` on Milvus Lite, then leaked into, damaged, cut short or
written half-way: secrets never reach them, ``mmrag compare`` names the file and the problem of a damaged
one and refuses an incomplete one, a failed write leaves no folder, output paths and numbers are refused
before any work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_inputs import TRACEBACK, assert_refused

from mmrag_lab.cli import main
from mmrag_lab.config import Config
from mmrag_lab.evaluation import compare, load_run
from mmrag_lab.evaluation.records.rundir import write_run
from mmrag_lab.evaluation.records.runfiles import INCOMPLETE, MANIFEST
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest

REPO = Path(__file__).resolve().parents[2]
PASSWORD, QUERY_KEY, TOKEN = "hunter2-in-the-url", "sk-in-the-query-string", "milvus-token-value"
LEAKY_URL = f"http://reranker:{PASSWORD}@llm.example:8000/v1?api-key={QUERY_KEY}&api-version=2024"


@pytest.fixture(scope="module")
def made(tmp_path_factory, sample_dir, tiny_encoder):
    """A collection of the sample, and one run made by the real CLI in a subprocess, with a leaky endpoint."""
    root = tmp_path_factory.mktemp("run_folders")
    uri = str(root / "lite.db")
    config = Config.load(env={}, milvus_uri=uri, collection="runs", encoder="tiny", weights="untrained")
    ingest(sample_dir, config=config, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENAI_BASE_URL": LEAKY_URL, "MMRAG_MILVUS_TOKEN": TOKEN,
           "MMRAG_LOG_DIR": str(root / "logs")}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "mmrag_lab.cli", *_eval_args(sample_dir, uri), "--out",
                           str(root / "good")], capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return root, uri, done.stdout + done.stderr


def _eval_args(sample_dir: Path, uri: str) -> list[str]:
    return ["eval", str(sample_dir), "--kind", "folders", "--uri", uri, "--collection", "runs", "--encoder",
            "tiny", "--weights", "untrained", "--device", "cpu", "--no-progress", "-k", "1", "5"]  # fmt: skip


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_no_password_query_key_or_token_reaches_the_run_folder_or_the_terminal(made):
    root, _, printed = made
    run = root / "good"
    for path in run.iterdir():
        data = path.read_bytes()
        for secret in (PASSWORD, QUERY_KEY, TOKEN):
            assert secret.encode() not in data, f"{secret} in {path.name}"
    config = json.loads((run / "config.json").read_text())
    assert config["llm_base_url"] == "http://llm.example:8000/v1?api-key=***&api-version=***"
    assert config["milvus_token"] == "***"
    assert PASSWORD not in printed and QUERY_KEY not in printed


def test_a_logged_bug_and_every_record_of_the_settings_hide_the_url_secrets(tmp_path, monkeypatch):
    from mmrag_lab.bugs import log_unexpected
    from mmrag_lab.workbench.runtime.recorder import to_jsonable

    monkeypatch.setenv("MMRAG_LOG_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["mmrag", "search", "--base-url", LEAKY_URL])
    line = log_unexpected(RuntimeError(f"connection to {LEAKY_URL} failed"), "mmrag search")
    [log] = tmp_path.glob("*.log")
    server = f"https://admin:{PASSWORD}@milvus.example:19530?token={QUERY_KEY}"
    config = Config.load(env={}, milvus_uri=server, llm_base_url=LEAKY_URL)
    for text in (line, log.read_text(), repr(config), json.dumps(to_jsonable(config)),
                 json.dumps(config.public_dict())):  # fmt: skip
        assert PASSWORD not in text and QUERY_KEY not in text, text
    assert "llm.example:8000/v1?api-key=***" in log.read_text()
    assert config.public_dict()["milvus_uri"] == "https://milvus.example:19530?token=***"


# name -> how a copy of the good run is damaged, and what the message must say besides the file's name
DAMAGE = {
    "corrupt metrics": ("metrics.json", lambda p: p.write_text("{not json"), "not valid JSON"),
    "empty metrics": ("metrics.json", lambda p: p.write_text(""), "empty"),
    "metrics is a list": ("metrics.json", lambda p: p.write_text("[1, 2]\n"), "a JSON list, not an object"),
    "rankings cut mid-line": ("rankings.jsonl", lambda p: p.write_bytes(p.read_bytes()[:-40]), "cut short"),
    "rankings cut at a line": ("rankings.jsonl",
                               lambda p: p.write_text("".join(p.read_text().splitlines(True)[:-1])),
                               "truncated or changed"),
    "rankings not UTF-8": ("rankings.jsonl", lambda p: p.write_bytes(b"\xff\xfe" + p.read_bytes()), "not UTF-8"),
    "config missing": ("config.json", lambda p: p.unlink(), "config.json missing"),
    "rankings missing": ("rankings.jsonl", lambda p: p.unlink(), "rankings.jsonl missing"),
    "rewrite interrupted": (INCOMPLETE, lambda p: p.touch(), "incomplete run"),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_compare_names_the_damaged_file_and_the_problem(made, tmp_path, capsys, damage):
    root, _, _ = made
    broken = tmp_path / "broken"
    shutil.copytree(root / "good", broken)
    name, harm, fragment = DAMAGE[damage]
    harm(broken / name)
    code, text = _run(["compare", str(root / "good"), str(broken), "--out", str(tmp_path / "cmp")], capsys)
    assert_refused(code, text, [str(broken), fragment])
    assert "This is a bug" not in text and not (tmp_path / "cmp").exists()


def test_a_record_without_its_keys_and_a_manifestless_half_run_are_refused(made, tmp_path, capsys):
    root, _, _ = made
    keyless, half = tmp_path / "keyless", tmp_path / "half"
    for folder in (keyless, half):
        shutil.copytree(root / "good", folder)
        (folder / MANIFEST).unlink()  # as a run folder written before manifests existed
    lines = (keyless / "rankings.jsonl").read_text().splitlines()
    record = json.loads(lines[2])
    del record["ranking"]
    (keyless / "rankings.jsonl").write_text("\n".join([*lines[:2], json.dumps(record), *lines[3:]]) + "\n")
    (half / "metrics.json").unlink()  # what a crash of the old writer left: some files, not all
    code, text = _run(["compare", str(root / "good"), str(keyless)], capsys)
    assert_refused(code, text, [str(keyless / "rankings.jsonl"), "line 3 has no 'ranking' list"])
    code, text = _run(["compare", str(root / "good"), str(half)], capsys)
    assert_refused(code, text, [str(half), "incomplete run", "metrics.json missing"])


def test_a_write_that_fails_half_way_leaves_no_run_folder_and_an_old_run_intact(made, tmp_path):
    root, _, _ = made
    run = load_run(root / "good")
    run.rankings = [*run.rankings, {"id": "unwritable", "value": {1, 2}}]  # a set: not JSON
    run.out_dir = tmp_path / "new"
    with pytest.raises(TypeError):
        write_run(run)
    assert list(tmp_path.iterdir()) == [], "no folder, no leftover temporary folder"
    shutil.copytree(root / "good", tmp_path / "old")
    before = {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir()}
    run.out_dir = tmp_path / "old"
    with pytest.raises(TypeError):
        write_run(run)
    assert {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir()} == before
    assert load_run(tmp_path / "old").rankings[-1]["id"] != "unwritable"


def test_a_query_id_with_a_lone_surrogate_is_written_whole_and_read_back(made, tmp_path, sample_dir, capsys):
    root, uri, _ = made
    dresses = sorted(p.name for p in (sample_dir / "dress").glob("*.jpg"))
    queries = tmp_path / "q.jsonl"
    lines = [{"id": "odd\udc80id", "image": dresses[0], "instruction": "a dress", "targets": [dresses[1]]},
             {"id": "plain", "image": dresses[2], "instruction": "a dress", "targets": [dresses[3]]}]  # fmt: skip
    queries.write_text("".join(json.dumps(line) + "\n" for line in lines))
    args = _eval_args(sample_dir, uri)
    code, text = _run([args[0], str(queries), *args[4:], "--out", str(tmp_path / "odd")], capsys)
    assert code == 0 and TRACEBACK not in text, text
    run = load_run(tmp_path / "odd")
    assert {rec["id"] for rec in run.rankings} == {"odd\udc80id", "plain"}
    on_disk = (tmp_path / "odd" / "rankings.jsonl").read_bytes().decode("utf-8")  # valid UTF-8
    assert '"odd\\udc80id"' in on_disk  # the JSON escape, which reads back as the same id
    assert compare(tmp_path / "odd", tmp_path / "odd", labels=["a", "b"], out_dir=tmp_path / "c").comparable


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [(["--show", "-3"], "--show must be a whole number from 0 to 50, got -3"),
     (["--show", "51"], "--show must be a whole number from 0 to 50"),
     (["--resamples", "0"], "--resamples must be a whole number from 99 to 100,000, got 0"),
     (["--resamples", "-5"], "--resamples must be a whole number from 99"),
     (["--resamples", "98"], "--resamples must be a whole number from 99"),
     (["--resamples", "100001"], "--resamples must be a whole number from 99 to 100,000")],
)  # fmt: skip
def test_compare_refuses_numbers_out_of_range_before_reading_a_run(made, tmp_path, capsys, extra, fragment):
    root, _, _ = made
    code, text = _run(["compare", str(root / "good"), str(tmp_path / "nowhere"), *extra], capsys)
    assert_refused(code, text, [fragment])


def test_compare_showing_no_query_still_writes_its_folder(made, tmp_path, capsys):
    root, _, _ = made
    code, text = _run(["compare", str(root / "good"), str(root / "good"), "--labels", "a", "b", "--show", "0",
                       "--resamples", "99", "--out", str(tmp_path / "cmp")], capsys)  # fmt: skip
    assert code == 0 and TRACEBACK not in text, text
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert data["disagreements"][0]["largest_changes"] == []
    assert (tmp_path / "cmp" / "disagree-1.png").is_file()  # no query in it, as for runs that agree


def test_output_paths_are_refused_before_any_run_is_read_or_any_query_is_encoded(made, tmp_path, capsys):
    root, uri, _ = made
    (tmp_path / "a_file").write_text("mine")
    blocked = str(tmp_path / "a_file" / "out")
    code, text = _run(["compare", str(tmp_path / "no_run"), str(tmp_path / "no_run_either"), "--out", blocked],
                      capsys)  # fmt: skip
    assert_refused(code, text, ["--out", "which is a file"])  # the runs were never looked at
    queries = tmp_path / "missing.jsonl"  # never read either: the out check comes first
    code, text = _run(["eval", str(queries), "--uri", uri, "--collection", "runs", "--out", blocked], capsys)
    assert_refused(code, text, ["--out", "which is a file"])
    images = tmp_path / "images"
    images.mkdir()
    code, text = _run(["ingest", str(images), "--uri", str(tmp_path / "x.db"), "--report",
                       str(tmp_path / "a_file" / "report.json")], capsys)  # fmt: skip
    assert_refused(code, text, ["--report", "which is a file"])
    assert not (tmp_path / "x.db").exists() and (tmp_path / "a_file").read_text() == "mine"
