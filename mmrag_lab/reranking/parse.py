"""Turning whatever a chat model replied into a valid ranking, or into a recorded reason why not.

Accepted forms, tried in this order: a JSON object with a ranking key (bare, in prose or in code fences),
the tutorial's ``Ranked list: [...] Reasons: ...`` text, and a bare JSON list. Every index is checked:
integers in range only, first occurrence wins, and candidates the reply left out follow in retrieval order.
Nothing in here raises on a bad reply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

RANKING_KEYS = ("ranking", "ranked_list", "ranked list", "rankedlist", "order", "indices", "ranks")
EXPLANATION_KEYS = ("explanation", "reason", "reasons", "rationale", "why")
_TEXT_LIST = re.compile(r"ranked[\s_]*list\s*[:=]?\s*\[([^\]]*)\]", re.IGNORECASE)
_TEXT_REASON = re.compile(r"reasons?\s*[:=]\s*(.*)", re.IGNORECASE | re.DOTALL)
MAX_JSON_STARTS = 64  # bounds the work on a long reply full of braces


@dataclass(frozen=True)
class ParsedRanking:
    """A validated ranking of ``n`` candidates.

    Attributes:
        order: A permutation of ``range(n)``; retrieval order when ``fallback_reason`` is set.
        explanation: Why the top candidate fits best ("" when the reply gave none).
        form: ``json``, ``text``, ``list`` or ``none``: which form the ranking was read from.
        issues: Repairs made to a usable reply (dropped or appended indices).
        fallback_reason: Why the reply was unusable, or None.
    """

    order: list[int]
    explanation: str = ""
    form: str = "none"
    issues: list[str] = field(default_factory=list)
    fallback_reason: str | None = None


def parse_ranking(text: str | None, n: int, first: int = 0) -> ParsedRanking:
    """Read a ranking of ``n`` candidates, numbered ``first..first+n-1`` in the reply, as 0-based positions."""
    text = (text or "").strip()
    if not text:
        return ParsedRanking(list(range(n)), fallback_reason="the model returned an empty reply")
    found = _from_json_object(text) or _from_text(text) or _from_json_list(text)
    if found is None:
        preview = " ".join(text.split())[:80]
        reason = f"the reply holds no ranking (neither JSON nor 'Ranked list: [...]'); it began: {preview!r}"
        return ParsedRanking(list(range(n)), fallback_reason=reason)
    values, explanation, form = found
    order, issues = validate_indices(values, n, first)
    if order is None:
        reason = f"no usable index in the reply's ranking {values!r:.120}; valid numbers are {first}..{n - 1 + first}"
        return ParsedRanking(list(range(n)), explanation, form, issues, fallback_reason=reason)
    return ParsedRanking(order, explanation, form, issues)


def validate_indices(values: list[Any], n: int, first: int = 0) -> tuple[list[int] | None, list[str]]:
    """Keep valid, first-seen numbers as 0-based positions, then append the missing ones; None when none was
    valid. Issues quote the numbers as the reply wrote them (``first`` is the first candidate's number)."""
    order: list[int] = []
    issues: list[str] = []
    for value in values:
        number = _as_index(value)
        if number is None:
            issues.append(f"ignored {value!r:.40}: not an integer index")
        elif not first <= number < n + first:
            issues.append(f"ignored index {number}: out of range {first}..{n - 1 + first}")
        elif number - first in order:
            issues.append(f"ignored duplicate index {number}")
        else:
            order.append(number - first)
    if not order:
        return None, issues
    missing = [i for i in range(n) if i not in order]
    if missing:
        shown = [i + first for i in missing]
        issues.append(f"appended indices the reply left out, in retrieval order: {shown}")
    return order + missing, issues


def _as_index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        stripped = value.strip().strip("'\"#").strip()
        if re.fullmatch(r"[+-]?\d{1,6}", stripped):
            return int(stripped)
    return None


def _json_values(text: str, opener: str):
    decoder = json.JSONDecoder()
    start = text.find(opener)
    for _ in range(MAX_JSON_STARTS):
        if start < 0:
            return
        try:
            yield decoder.raw_decode(text, start)[0]
        except ValueError:
            pass
        start = text.find(opener, start + 1)


def _from_json_object(text: str) -> tuple[list[Any], str, str] | None:
    for value in _json_values(text, "{"):
        if not isinstance(value, dict):
            continue
        lowered = {str(k).strip().lower(): v for k, v in value.items()}
        ranking = next((lowered[k] for k in RANKING_KEYS if isinstance(lowered.get(k), list)), None)
        if ranking is not None:
            explanation = next((lowered[k] for k in EXPLANATION_KEYS if k in lowered), "")
            return ranking, _as_text(explanation), "json"
    return None


def _from_text(text: str) -> tuple[list[Any], str, str] | None:
    match = _TEXT_LIST.search(text)
    if match is None:
        return None
    items = [item for item in re.split(r"[,;\s]+", match.group(1)) if item]
    reason = _TEXT_REASON.search(text, match.end())
    return items, (reason.group(1).strip() if reason else ""), "text"


def _from_json_list(text: str) -> tuple[list[Any], str, str] | None:
    for value in _json_values(text, "["):
        if isinstance(value, list) and value:
            return value, "", "list"
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False) if value not in (None, "") else ""
