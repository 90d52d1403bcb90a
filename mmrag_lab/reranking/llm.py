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
from mmrag_lab.reranking.llm_messages import (
    auth_message,
    describe,
    public_url,
    read_timeout,
    redact,
    unreachable_hint,
)

__all__ = ["ChatReply", "RetryPolicy", "Sampling", "Usage", "chat", "make_client", "redact"]

log = logging.getLogger(__name__)
KEY_VAR = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Request fields an endpoint (base URL, model) refused with a 400 naming them; left out from then on.
_REFUSED: dict[tuple[str, str], set[str]] = {}
_REFUSED_LOCK = threading.Lock()
# What a refusal message must mention for its field to be dropped; any other 400 is an error.
_FIELD_WORDS = {
    "response_format": ("response_format", "json_schema", "structured output", "response format"),
    "seed": ("seed",),
    "max_tokens": ("max_tokens",),
    "temperature": ("temperature",),
}


@dataclass(frozen=True)
class Sampling:
    """Generation settings sent with every request, so that a reply (and the cache of it) is reproducible.

    Temperature 0 makes the model as deterministic as the endpoint allows; ``seed`` is sent too and left
    out only if the endpoint refuses it; ``max_tokens`` bounds the cost of a runaway reply.
    """

    temperature: float = 0.0
    max_tokens: int = 800
    seed: int | None = 0

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        return out if self.seed is None else {**out, "seed": self.seed}


def endpoint_url(client: Any = None, base_url: str | None = None) -> str:
    """The endpoint a request goes to, normalised (part of the reply cache's key)."""
    url = str(getattr(client, "base_url", None) or base_url or DEFAULT_BASE_URL)
    return url.rstrip("/")


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


def reranker_configured(config: Config, base_url: str | None = None) -> bool:
    """True when the reranker has an endpoint to call: an API key (api.openai.com) or a base URL.

    The one answer to "is a reranker configured?": :func:`make_client`, the notebooks and ``make demo``
    all ask here.
    """
    return bool(os.environ.get(KEY_VAR) or base_url or config.llm_base_url)


def make_client(config: Config, *, base_url: str | None = None, timeout: float | None = None) -> Any:
    """Build an ``openai.OpenAI`` client from the environment and the config.

    Raises:
        ConfigError: Neither an API key nor an endpoint is configured (no network call is made).
    """
    import openai

    if not reranker_configured(config, base_url):
        raise ConfigError(
            f"No LLM endpoint is configured: set {KEY_VAR} to use api.openai.com, or set OPENAI_BASE_URL "
            "(or pass base_url=) to use another OpenAI-compatible server such as vLLM, Ollama or LM Studio."
        )
    read = timeout if timeout is not None else config.llm_timeout
    # Local servers often need no key, but the client insists on one. The timeout is the client's own
    # type (openai.Timeout: httpx's in 1.x and 2.x, httpx2's in 3.x): a transport's object is refused by
    # a major that runs on another transport.
    return openai.OpenAI(
        api_key=os.environ.get(KEY_VAR) or "no-key",
        base_url=base_url or config.llm_base_url,
        timeout=openai.Timeout(read, connect=min(read, config.llm_connect_timeout)),
        max_retries=0,
    )


def chat(client: Any, model: str, request: dict[str, Any], *, retry: RetryPolicy) -> ChatReply:
    """Send one chat request; retry what a retry can fix and translate the rest into project errors.

    A request that timed out (the endpoint accepted it and did not answer within the client's read
    timeout, ``MMRAG_LLM_TIMEOUT``) is not sent again: an endpoint that hangs costs one timeout, not one
    per retry. 429s, 5xx answers and refused connections are retried by ``retry``.

    Args:
        client: An ``openai.OpenAI``-compatible client.
        model: The model name.
        request: ``messages`` plus optional ``response_format``, ``temperature``, ``max_tokens``, ``seed``.
        retry: Backoff policy for 429, 5xx, timeouts and dropped connections.

    A 400 that names one of the optional fields (e.g. "response_format json_schema is not supported") is
    retried once without that field, and the endpoint is remembered; any other 400 fails at once.

    Raises:
        AuthenticationError: The endpoint refused the credentials (401/403).
        RerankError: Any other failure, after the retries are spent.
    """
    import openai

    endpoint = (endpoint_url(client), model)
    dropped = set(_REFUSED.get(endpoint, ()))
    started, attempt = time.perf_counter(), 0
    while True:
        try:
            sent = {k: v for k, v in request.items() if k not in dropped}
            if "max_tokens" in dropped and "max_tokens" in request:  # newer OpenAI models name it so
                sent.setdefault("max_completion_tokens", request["max_tokens"])
            response = client.chat.completions.create(model=model, **sent)
            if dropped - _REFUSED.get(endpoint, set()):
                with _REFUSED_LOCK:  # remembered only once the request without them has worked
                    _REFUSED.setdefault(endpoint, set()).update(dropped)
            structured = "response_format" in sent
            return _reply(response, model, started, attempt + 1, structured)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise AuthenticationError(auth_message(client, exc)) from None
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            field = _refused_field(exc, set(request) - dropped)
            if field is None:
                raise RerankError(f"The endpoint rejected the request ({describe(client, exc)})") from None
            log.info("endpoint %s refused %s; asking without it", endpoint[0], field)
            dropped.add(field)
        except openai.APITimeoutError:
            raise RerankError(
                f"The LLM endpoint at {public_url(client)} timed out: no answer within {read_timeout(client)}. "
                "Check that the server there is up and serving this model; for a slow model raise "
                "--llm-timeout (MMRAG_LLM_TIMEOUT)."
            ) from None
        except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
            if attempt >= retry.max_retries:
                hint = unreachable_hint(exc)
                raise RerankError(
                    f"Gave up after {attempt + 1} attempt(s) at {public_url(client)}: "
                    f"{describe(client, exc)}{hint}"
                ) from None
            delay = retry.wait(attempt, _retry_after(exc))
            log.info(
                "retry %d/%d in %.2fs after %s", attempt + 1, retry.max_retries, delay, type(exc).__name__
            )
            time.sleep(delay)
            attempt += 1
        except openai.APIStatusError as exc:
            raise RerankError(f"The endpoint refused the request ({describe(client, exc)})") from None


def _refused_field(exc: Exception, optional: set[str]) -> str | None:
    """The optional request field a 400 is about, or None when it is about something else."""
    text = str(getattr(exc, "message", "") or exc).lower()
    body = getattr(exc, "body", None)
    param = str(body.get("param") or "").lower() if isinstance(body, dict) else ""
    for name, words in _FIELD_WORDS.items():
        if name in optional and (param == name or any(w in text for w in words)):
            return name
    return None


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
