"""Secrets out of everything recorded: one rule for URLs, one for free text.

:func:`public_url` is the one way a URL is written anywhere (``config.json`` of a run, reports, log files,
notebook and app records, messages): it keeps scheme, host, port and path, drops any ``user:password@``
and the fragment, and replaces every query value (and a bare query token) with ``***`` (``?api-key=***``), since an endpoint's key
often travels there. :func:`redact` applies it to every URL inside a text, and also hides the values of
this environment's secret variables wherever they appear.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

SECRET_VARS = ("OPENAI_API_KEY", "MMRAG_MILVUS_TOKEN")
HIDDEN = "***"
# a scheme, then everything up to a blank, a quote or a bracket that ends a URL inside a sentence
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]*[^\s'\"<>`.,;:)]")


def public_url(url: str | None) -> str | None:
    """``url`` safe to record: no ``user:password@``, no fragment, and ``***`` for every query value.

    A local path (a Milvus Lite file) has no scheme and comes back unchanged; None stays None.
    """
    if url is None or "://" not in str(url):
        return url
    text = str(url)
    try:
        parts = urlsplit(text)
        netloc = parts.netloc.rpartition("@")[2]
    except ValueError:  # e.g. an unclosed [IPv6 bracket: keep only what surely holds no secret
        scheme, _, rest = text.partition("://")
        return f"{scheme}://{re.split(r'[/?#]', rest.rpartition('@')[2])[0]}"
    query = "&".join(_hide_value(pair) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact(text: str) -> str:
    """``text`` with every URL made :func:`public_url` and this environment's secrets replaced by ``***``."""
    for var in SECRET_VARS:
        secret = os.environ.get(var) or ""
        if len(secret) >= 4:
            text = text.replace(secret, HIDDEN)
    return URL_IN_TEXT.sub(lambda found: public_url(found[0]) or "", text)


def _hide_value(pair: str) -> str:
    """``key=***``; a pair without ``=`` may be a bare token, so it is hidden whole."""
    key, sep, _ = pair.partition("=")
    return f"{key}={HIDDEN}" if sep else HIDDEN
