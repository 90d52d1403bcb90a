"""Secrets out of recorded URLs and text: credentials, fragments and query values hidden, paths untouched."""

from __future__ import annotations

from mmrag_lab.redaction import HIDDEN, public_url, redact


def test_a_url_keeps_scheme_host_port_and_path_only():
    url = "https://user:s3cret@llm.example.com:8443/v1/chat?api-key=abc123&x=1#frag"
    assert public_url(url) == f"https://llm.example.com:8443/v1/chat?api-key={HIDDEN}&x={HIDDEN}"
    assert public_url("http://host/v1?token") == f"http://host/v1?{HIDDEN}"  # a bare token hidden whole
    assert public_url("http://localhost:19530") == "http://localhost:19530"


def test_local_paths_and_none_come_back_unchanged():
    assert public_url("/data/milvus.db") == "/data/milvus.db"
    assert public_url("relative/lite.db") == "relative/lite.db"
    assert public_url(None) is None


def test_an_unparseable_url_keeps_only_its_host_part():
    assert public_url("http://u:p@[::1/path?k=v") == "http://[::1"


def test_redact_hides_urls_in_text_and_the_environments_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-verysecretvalue")
    monkeypatch.delenv("MMRAG_MILVUS_TOKEN", raising=False)
    text = "call to https://bob:pw@api.example.com/v1?key=zzz failed (key sk-verysecretvalue)."
    out = redact(text)
    assert out == f"call to https://api.example.com/v1?key={HIDDEN} failed (key {HIDDEN})."
    assert "pw" not in out and "zzz" not in out and "sk-verysecretvalue" not in out


def test_redact_leaves_short_secrets_and_plain_text_alone(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "abc")  # too short to replace safely everywhere
    assert redact("abc is the alphabet's start") == "abc is the alphabet's start"
