"""Backends given what users really type: URIs where nothing listens, ``.db`` paths that are junk files,
junk folders or read-only, a token on a Lite file, collection names Milvus refuses. Read-only commands
never create a file in a folder that is not already a database."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from cli_inputs import TRACEBACK, assert_refused, bad_collection_names, small_collection, snapshot

from mmrag_lab.checks import collection_name
from mmrag_lab.cli import main
from mmrag_lab.errors import ConfigError
from tests.ports import free_port


@pytest.fixture(scope="module")
def lite(tmp_path_factory, sample_dir, tiny_encoder):
    uri, images = small_collection(tmp_path_factory.mktemp("backends"), sample_dir, tiny_encoder)
    return uri, images, snapshot(uri)


def run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _targets(root: Path) -> dict[str, tuple[Path, str]]:
    """Paths that hold no database: name -> (path, fragment of the refusal)."""
    junk_folder = root / "junk_folder.db"
    junk_folder.mkdir()
    (junk_folder / "holiday.jpg").write_bytes(b"not yours to touch")
    (root / "empty.db").mkdir()
    (root / "junk_file.db").write_bytes(os.urandom(4096))
    return {
        "missing": (root / "missing.db", "There is no Milvus Lite database"),
        "missing_parent": (root / "no" / "such" / "dir" / "x.db", "There is no Milvus Lite database"),
        "empty_folder": (root / "empty.db", "There is no Milvus Lite database"),
        "junk_folder": (junk_folder, "not a Milvus Lite database"),
        "junk_file": (root / "junk_file.db", "is a file"),
    }


READ_ONLY = {
    "info": lambda uri: ["info", "--uri", uri, "--collection", "badinput"],
    "search": lambda uri: [
        "search",
        "--uri",
        uri,
        "--collection",
        "badinput",
        "--text",
        "red",
        "--device",
        "cpu",
    ],
    "lite status": lambda uri: ["lite", "status", uri],
}


@pytest.mark.parametrize("target", ["missing", "missing_parent", "empty_folder", "junk_folder", "junk_file"])
@pytest.mark.parametrize("command", sorted(READ_ONLY))
def test_read_only_commands_create_nothing(tmp_path, capsys, monkeypatch, command, target):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "user"
    root.mkdir()
    path, fragment = _targets(root)[target]
    before = listing(root)
    code, text = run(READ_ONLY[command](str(path)) + (["--out", str(tmp_path / "o")] if command == "search" else []),
                     capsys)  # fmt: skip
    assert listing(root) == before, f"{command} wrote into {root}"
    assert TRACEBACK not in text
    if command == "lite status":  # a status, not a job: 0, and it says what it found
        said = "no Milvus Lite database here" if target.startswith("missing") else "no server running"
        assert code == 0 and said in text
    else:
        assert_refused(code, text, [fragment, str(path)])


@pytest.mark.parametrize("target", ["junk_folder", "junk_file"])
def test_ingest_refuses_a_db_that_is_junk_and_leaves_it_alone(tmp_path, capsys, lite, target):
    _, images, _ = lite
    root = tmp_path / "user"
    root.mkdir()
    path, fragment = _targets(root)[target]
    before = listing(root)
    content = (path / "holiday.jpg").read_bytes() if path.is_dir() else path.read_bytes()
    code, text = run(["ingest", str(images), "--uri", str(path), "--encoder", "tiny", "--weights", "untrained",
                      "--device", "cpu", "--no-progress"], capsys)  # fmt: skip
    assert_refused(code, text, [fragment, str(path)])
    assert listing(root) == before
    assert (path / "holiday.jpg" if path.is_dir() else path).read_bytes() == content


@pytest.fixture()
def read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
    elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root cannot make a read-only folder here (chattr +i refused)")
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o700)


@pytest.mark.parametrize("command", ["ingest", "info"])
def test_a_db_in_a_read_only_folder_is_one_clear_message(read_only_folder, lite, capsys, command):
    _, images, _ = lite
    uri = str(read_only_folder / "x.db")
    argv = {"ingest": ["ingest", str(images), "--uri", uri, "--encoder", "tiny", "--weights", "untrained",
                       "--device", "cpu", "--no-progress"],
            "info": ["info", "--uri", uri]}[command]  # fmt: skip
    code, text = run(argv, capsys)
    fragment = "not writable" if command == "ingest" else "There is no Milvus Lite database"
    assert_refused(code, text, [fragment, str(read_only_folder)])
    assert listing(read_only_folder) == []


def test_a_server_uri_where_nothing_listens_names_it_without_credentials(capsys):
    port = free_port()
    code, text = run(["info", "--uri", f"http://alice:s3cret-pw@127.0.0.1:{port}", "--connect-timeout", "3"],
                     capsys)  # fmt: skip
    assert_refused(code, text, [f"http://127.0.0.1:{port}", "Check that it runs"])
    assert "s3cret-pw" not in text and "alice" not in text


def test_a_token_on_a_lite_uri_is_ignored_with_a_warning(lite, capsys, monkeypatch):
    uri, _, before = lite
    token = f"tok-{uuid.uuid4().hex}"
    monkeypatch.setenv("MMRAG_MILVUS_TOKEN", token)
    code, text = run(["info", "--uri", uri, "--collection", "badinput"], capsys)
    assert code == 0 and TRACEBACK not in text
    assert "warning: MMRAG_MILVUS_TOKEN is set" in text and "Milvus Lite" in text
    assert token not in text
    assert snapshot(uri) == before


GOOD_NAMES = ["_a", "A1_b", "images_2026", "x" * 255]


@pytest.mark.server
def test_the_collection_name_rule_agrees_with_the_milvus_server(milvus_server):
    """What the rule refuses, the real Milvus server refuses too; what it accepts, the server creates.
    (Milvus Lite accepts nearly any name, so a collection made there could not move to a server.)"""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=milvus_server.uri)
    disagree = []
    for name in bad_collection_names() + GOOD_NAMES:
        try:
            collection_name("name", name)
            ours = True
        except ConfigError:
            ours = False
        try:
            client.create_collection(name, dimension=4)
            client.drop_collection(name)
            theirs = True
        except Exception:
            theirs = False
        if ours != theirs:
            disagree.append((name, ours, theirs))
    client.close()
    assert disagree == []
