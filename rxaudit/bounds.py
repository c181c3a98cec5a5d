"""How much one finding may hold wherever it is stored or shown: the one place for these caps.

A finding can involve thousands of things (40 settlements sharing 6,000 traceability codes): it keeps
totals and the first few of each list, never every pairing, so what is stored, served and printed
grows with neither the codes nor the partners. The full data stay in the tables they came from
(``sold_trace_codes``, the settlements). :func:`clipped_json` bounds what was stored before these caps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")

EVIDENCE_LIST_MAX = 20  # items one evidence list holds (codes, partner settlements); totals beside it
REASON_ITEMS = 3  # codes, settlements or lines one reason sentence names before "… +N"
REASON_MAX = 2_000  # characters of one reason text (the rules' technical text, a plain sentence)
API_ROW_MAX = 64 * 1024  # bytes of one flag as the API serves it (JSON), evidence included
PDF_TEXT_MAX = 60_000  # characters of the case summary a PDF is rendered from (longer: no PDF, the HTML)
EXPORT_DEADLINE_S = 120.0  # seconds one case file may take to build (a timeout is an error, never a hang)
PDF_DEADLINE_S = 60.0  # seconds the PDF renderer may take of that (killed then: the case file has no PDF)


def clip_text(text: str, limit: int = REASON_MAX) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and how long it was."""
    if len(text) <= limit:
        return text
    tail = f" … ({len(text):,} characters in all)"
    keep = max(0, limit - len(tail))
    return text[:keep] + tail[: limit - keep]


def first(values: Iterable[T], limit: int = EVIDENCE_LIST_MAX) -> list[T]:
    """The first ``limit`` of ``values``."""
    out: list[T] = []
    for value in values:
        if len(out) == limit:
            break
        out.append(value)
    return out


def listing(names: Iterable[str], total: int, limit: int = REASON_ITEMS, sep: str = ", ") -> str:
    """``a, b, c … +7``: the first ``limit`` names and how many others there are (in any language)."""
    shown = first(names, limit)
    text = sep.join(shown)
    return f"{text} … +{total - len(shown)}" if total > len(shown) else text


def clipped_json(value: Any, *, list_max: int = EVIDENCE_LIST_MAX, text_max: int = REASON_MAX) -> Any:
    """``value`` (JSON data) with every list cut to ``list_max`` items and every string to
    ``text_max`` characters; a dict whose list was cut says so in ``truncated`` (key -> full length)."""
    if isinstance(value, str):
        return clip_text(value, text_max)
    if isinstance(value, list):
        return [clipped_json(v, list_max=list_max, text_max=text_max) for v in value[:list_max]]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    cut: dict[str, int] = {}
    for key, item in value.items():
        out[key] = clipped_json(item, list_max=list_max, text_max=text_max)
        if isinstance(item, list) and len(item) > list_max:
            cut[key] = len(item)
    if cut:
        out["truncated"] = {**(value.get("truncated") if isinstance(value.get("truncated"), dict) else {}), **cut}
    return out


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode())


def fit_json(value: Any, budget: int) -> Any:
    """``value`` itself if it takes at most ``budget`` bytes as JSON, else clipped (:func:`clipped_json`)
    tighter and tighter until it does; an empty value of its type if even the tightest does not fit."""
    if json_size(value) <= budget:
        return value
    for list_max, text_max in ((EVIDENCE_LIST_MAX, REASON_MAX), (5, 200), (1, 40)):
        clipped = clipped_json(value, list_max=list_max, text_max=text_max)
        if json_size(clipped) <= budget:
            return clipped
    return type(value)() if isinstance(value, list | dict | str) else None
