"""What the reranker's client says when an endpoint fails: messages that name the URL, never the key."""

from __future__ import annotations

from typing import Any

from mmrag_lab import redaction

KEY_VAR = "OPENAI_API_KEY"


def describe(client: Any, exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = f"HTTP {status}: {exc}" if status else f"{type(exc).__name__}: {exc}"
    return redact(text[:400], getattr(client, "api_key", None))


def unreachable_hint(exc: Exception) -> str:
    import openai

    if isinstance(exc, openai.APIConnectionError):
        return (
            ". Nothing answered there: check that the server runs and that OPENAI_BASE_URL (or --base-url) "
            "names it, with its port and path (e.g. http://localhost:8000/v1)."
        )
    return ""


def read_timeout(client: Any) -> str:
    timeout = getattr(client, "timeout", None)
    read = getattr(timeout, "read", timeout)
    return f"{read:g} s" if isinstance(read, (int, float)) else "its timeout"


def auth_message(client: Any, exc: Exception) -> str:
    return (
        f"The LLM endpoint at {public_url(client)} rejected the credentials ({describe(client, exc)}). "
        f"Set {KEY_VAR} to a valid key for this endpoint (for another server, set the key that server "
        "expects in the same variable) and try again."
    )


def public_url(client: Any) -> str:
    """The client's endpoint as it may be shown (:func:`mmrag_lab.redaction.public_url`)."""
    return redaction.public_url(str(getattr(client, "base_url", "") or "")) or ""


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` (and of its long prefixes) in ``text`` with ``***``."""
    if secret and len(secret) >= 8:
        text = text.replace(secret, "***").replace(secret[:12], "***")
    return text
