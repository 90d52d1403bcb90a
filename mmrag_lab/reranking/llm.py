"""One chat call to any OpenAI-compatible endpoint, with a bounded timeout and bounded retries.

The ``openai`` client's own retries are switched off so that the policy here (backoff, ``Retry-After``
honoured but capped) is the only one, and so that tests can shrink the waits.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from mmrag_lab.config import Config
from mmrag_lab.errors import AuthenticationError, ConfigError, RerankError

log = logging.getLogger(__name__)
KEY_VAR = "OPENAI_API_KEY"
# Endpoints (base URL, model) seen rejecting JSON-schema output; asked for plain text from then on.
_NO_SCHEMA: set[tuple[str, str]] = set()
_NO_SCHEMA_LOCK = threading.Lock()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a 429, a 5xx, a timeout or a dropped connection."""

    max_retries: int = 3
    backoff_s: float = 1.0
    max_wait_s: float = 30.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to sleep before retry number ``attempt`` (0-based), with jitter, never above the cap."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait_s)
        return min(self.backoff_s * 2**attempt * random.uniform(0.5, 1.0), self.max_wait_s)


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the endpoint (zeros when it reports none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class ChatReply:
    """The text of one successful chat completion and what it cost."""

    text: str
    model: str
    usage: Usage
    latency_s: float
    attempts: int
    structured: bool


def make_client(config: Config, *, base_url: str | None = None, timeout: float | None = None) -> Any:
    """Build an ``openai.OpenAI`` client from the environment and the config.

    Raises:
        ConfigError: Neither an API key nor an endpoint is configured (no network call is made).
    """
    import openai

    key = os.environ.get(KEY_VAR) or None
    base_url = base_url or config.llm_base_url
    if key is None and base_url is None:
        raise ConfigError(
            f"No LLM endpoint is configured: set {KEY_VAR} to use api.openai.com, or set OPENAI_BASE_URL "
            "(or pass base_url=) to use another OpenAI-compatible server such as vLLM, Ollama or LM Studio."
        )
    # Local servers often need no key, but the client insists on one.
    return openai.OpenAI(
        api_key=key or "no-key",
        base_url=base_url,
        timeout=timeout if timeout is not None else config.llm_timeout,
        max_retries=0,
    )


def chat(
    client: Any, model: str, messages: list[dict], *, schema: dict | None, retry: RetryPolicy
) -> ChatReply:
    """Send one chat request; retry what a retry can fix and translate the rest into project errors.

    Raises:
        AuthenticationError: The endpoint refused the credentials (401/403).
        RerankError: Any other failure, after the retries are spent.
    """
    import openai

    endpoint = (str(client.base_url), model)
    use_schema = schema is not None and endpoint not in _NO_SCHEMA
    started, attempt = time.perf_counter(), 0
    while True:
        try:
            extra = {"response_format": schema} if use_schema else {}
            response = client.chat.completions.create(model=model, messages=messages, **extra)
            if schema is not None and not use_schema:
                with _NO_SCHEMA_LOCK:  # remembered only once plain text has worked
                    _NO_SCHEMA.add(endpoint)
            return _reply(response, model, started, attempt + 1, use_schema)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise AuthenticationError(_auth_message(client, exc)) from None
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if not use_schema:
                raise RerankError(f"The endpoint rejected the request ({_describe(client, exc)})") from None
            log.info("endpoint %s rejected JSON-schema output; asking for plain text", endpoint[0])
            use_schema = False
        except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
            if attempt >= retry.max_retries:
                raise RerankError(
                    f"Gave up after {attempt + 1} attempt(s): {_describe(client, exc)}"
                ) from None
            delay = retry.wait(attempt, _retry_after(exc))
            log.info(
                "retry %d/%d in %.2fs after %s", attempt + 1, retry.max_retries, delay, type(exc).__name__
            )
            time.sleep(delay)
            attempt += 1
        except openai.APIStatusError as exc:
            raise RerankError(f"The endpoint refused the request ({_describe(client, exc)})") from None


def _reply(response: Any, model: str, started: float, attempts: int, structured: bool) -> ChatReply:
    choices = getattr(response, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    text = (getattr(message, "content", None) or "") if message is not None else ""
    raw_usage = getattr(response, "usage", None)
    usage = Usage(
        prompt_tokens=int(getattr(raw_usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(raw_usage, "completion_tokens", 0) or 0),
        total_tokens=int(getattr(raw_usage, "total_tokens", 0) or 0),
    )
    served = getattr(response, "model", None) or model
    return ChatReply(text, str(served), usage, time.perf_counter() - started, attempts, structured)


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if email.utils.parsedate_tz(value) else None
        return None if parsed is None else parsed.timestamp() - time.time()


def _describe(client: Any, exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = f"HTTP {status}: {exc}" if status else f"{type(exc).__name__}: {exc}"
    return redact(text[:400], getattr(client, "api_key", None))


def _auth_message(client: Any, exc: Exception) -> str:
    return (
        f"The LLM endpoint at {_public_url(client)} rejected the credentials ({_describe(client, exc)}). "
        f"Set {KEY_VAR} to a valid key for this endpoint (for another server, set the key that server "
        "expects in the same variable) and try again."
    )


def _public_url(client: Any) -> str:
    url = str(getattr(client, "base_url", "") or "")
    scheme, sep, rest = url.partition("://")
    return scheme + sep + rest.rpartition("@")[2] if sep else url


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` (and of its long prefixes) in ``text`` with ``***``."""
    if secret and len(secret) >= 8:
        text = text.replace(secret, "***").replace(secret[:12], "***")
    return text
