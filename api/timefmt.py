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

from jinja2 import pass_context

from api.catalogs import N_, gettext_for

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


# Durations as people say them: seconds while short, minutes (and hours) once long. The msgids are
# translated by the caller's ``gettext`` (api.catalogs), so "3 min 20 s" reads "3 分 20 秒" in Chinese.
SECONDS = N_("%(s)s s")
MINUTES_SECONDS = N_("%(m)s min %(s)s s")
MINUTES = N_("%(m)s min")
HOURS_MINUTES = N_("%(h)s h %(m)s min")
HOURS = N_("%(h)s h")
LONG_S = 60.0  # from a minute on a duration is said in minutes


def duration(seconds: float, gettext: Callable[[str], str] = lambda m: m) -> str:
    """``seconds`` (its size; the caller says before/after) in words: ``45 s``, ``2.5 s``,
    ``3 min 20 s``, ``2 h 5 min``. Below :data:`LONG_S` in seconds (one decimal under ten)."""
    value = abs(float(seconds))
    if value != value or value == float("inf"):  # NaN, infinity: nothing honest to say
        return "?"
    if value < LONG_S:
        shown = f"{value:.1f}".rstrip("0").rstrip(".") if value < 10 else f"{value:.0f}"
        return gettext(SECONDS) % {"s": shown}
    total = int(round(value))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return gettext(HOURS_MINUTES if m else HOURS) % {"h": h, "m": m}
    return gettext(MINUTES_SECONDS if s else MINUTES) % {"m": m, "s": s}


@pass_context
def duration_filter(ctx: Any, seconds: float) -> str:
    """The pages' ``duration`` filter: :func:`duration` in the page's language."""
    return duration(seconds, gettext_for(ctx.get("lang", "en")))
