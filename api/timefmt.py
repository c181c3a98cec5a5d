"""Times as the API and the case files show them: in the pharmacy's zone, whole seconds, with the
offset. The API writes ISO 8601 (``2026-11-20T10:00:45+08:00``); case files the same instant with a
space (``2026-11-20 10:00:45+08:00``), as printed documents do. ``localize`` rewrites every aware
ISO 8601 time inside stored JSON (evidence, what was seen) the same way."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

AWARE_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


def api_time(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds")


def case_time(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(sep=" ", timespec="seconds")


def localize(value: Any, tz: ZoneInfo, render: Callable[[datetime, ZoneInfo], str] = api_time) -> Any:
    """``value`` (JSON) with every aware ISO 8601 time string rendered in ``tz``; the rest unchanged."""
    if isinstance(value, str):
        if len(value) <= 40 and AWARE_ISO.fullmatch(value):
            try:
                return render(datetime.fromisoformat(value), tz)
            except ValueError:
                return value
        return value
    if isinstance(value, dict):
        return {k: localize(v, tz, render) for k, v in value.items()}
    if isinstance(value, list):
        return [localize(v, tz, render) for v in value]
    return value
