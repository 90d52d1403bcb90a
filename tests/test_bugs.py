"""The last resort for bugs: one readable line for the user, the whole traceback (secrets redacted) in a file."""

from __future__ import annotations

import re
from pathlib import Path

from mmrag_lab import bugs


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - the traceback is what is logged
        return caught


def test_the_log_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MMRAG_LOG_DIR", str(tmp_path / "logs"))
    assert bugs.log_dir() == tmp_path / "logs"
    monkeypatch.delenv("MMRAG_LOG_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert bugs.log_dir() == tmp_path / "cache" / "mmrag_lab" / "logs"


def test_an_unexpected_error_is_one_line_and_a_log_file(monkeypatch, tmp_path):
    monkeypatch.setenv("MMRAG_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-1234")
    exc = _raised(RuntimeError("meta at https://u:pw@host/x?key=sk-secret-value-1234\nsecond line"))
    line = bugs.log_unexpected(exc, "mmrag search")
    assert "\n" not in line and line.startswith(
        "mmrag search: unexpected error (RuntimeError: meta at https://host/x?key=***)"
    )
    assert "second line" not in line and "pw@" not in line and "sk-secret-value-1234" not in line
    (log,) = (tmp_path / "logs").iterdir()
    assert str(log) in line and re.fullmatch(r"\d{8}-\d{6}-\d+-mmrag_search\.log", log.name)
    text = log.read_text()
    assert text.startswith("mmrag search\n") and "Traceback (most recent call last)" in text
    assert "second line" in text and "sk-secret-value-1234" not in text


def test_an_error_without_a_message_is_named_by_its_type(monkeypatch, tmp_path):
    monkeypatch.setenv("MMRAG_LOG_DIR", str(tmp_path))
    assert "unexpected error (ZeroDivisionError)." in bugs.log_unexpected(_raised(ZeroDivisionError()), "x")


def test_a_log_folder_that_cannot_be_made_falls_back_to_the_temporary_folder(monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MMRAG_LOG_DIR", str(blocker / "logs"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    line = bugs.log_unexpected(_raised(RuntimeError("boom")), "the app's search button")
    (log,) = (tmp_path / "tmp" / "mmrag_lab-logs").iterdir()
    assert str(log) in line and "boom" in Path(log).read_text()
