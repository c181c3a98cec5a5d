"""Time-zone names, checked once for settings and readers alike (``ingest.times`` reads with them)."""

from __future__ import annotations

from datetime import tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_INPUT_TIMEZONE = "Asia/Shanghai"  # settings.input_timezone


@lru_cache(maxsize=16)
def zone(name: str | None) -> tzinfo | None:
    """The zone named (None for an empty name); a ValueError naming it when it is unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time-zone name (e.g. Asia/Shanghai)") from None
