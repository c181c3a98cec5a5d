"""Times in input files. ISO 8601 with a UTC offset is read as written. The exports of Chinese
hospital-information and pharmacy systems write local time without an offset, often with slashes or
packed digits (``2025/03/01 09:30:15``, ``20250301093015``; an .xlsx date cell has no zone either):
such a time is read in the configured ``input_timezone`` (Asia/Shanghai unless set), or, when that
setting is empty, rejected with its column named."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from ingest.reasons import RowError
from rxaudit.timezones import DEFAULT_INPUT_TIMEZONE, zone  # noqa: F401 - read from here by the readers

_SLASHED = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(.*)")
_PACKED = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})")


def _iso(raw: str) -> str:
    """``raw`` in a form ``datetime.fromisoformat`` reads, for the other forms exports use."""
    if m := _SLASHED.fullmatch(raw):
        year, month, day, rest = m.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}{rest}"
    if m := _PACKED.fullmatch(raw):
        return "{}-{}-{}T{}:{}:{}".format(*m.groups())
    return raw


def parse_time(raw: str, column: str, local: tzinfo | None) -> datetime:
    """``raw`` as an aware time; a :class:`RowError` naming ``column`` when it is not one."""
    raw = raw.strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        try:
            value = datetime.fromisoformat(_iso(raw))
        except ValueError:
            raise RowError(column, "is not ISO 8601", raw) from None
    if value.tzinfo is None or value.utcoffset() is None:
        if local is None:
            raise RowError(column, "has no UTC offset (setting input_timezone is empty)", raw)
        value = value.replace(tzinfo=local)
    return value
