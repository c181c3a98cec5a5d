"""What the recorder (``rxaudit record``) wrote down about each counter's camera over the batch's time:
tamper spans (the stream was up, the picture black, uniform, frozen or turned away) and recording gaps
(offline, stalled, the recorder not running). Times are the recorder's clock, which names the stored
segments, so they compare with a settlement's camera time. Read from the database by the audit
(``database.cameras.camera_log``); an audit without a recorder has an empty log and nothing changes."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

CounterKey = tuple[str, str]


@dataclass(frozen=True)
class CameraSpan:
    """A tamper span (``reason``: black, uniform, frozen, turned) or a gap (``reason``: the recorder's
    words, e.g. "cannot read the stream: Connection refused"); ``end`` None while it lasts."""

    start: datetime
    end: datetime | None
    reason: str
    keyframes: tuple[tuple[str, str], ...] = ()  # a tamper span's ("before" | "after" | "back", evidence path)

    def overlaps(self, t: datetime, within: timedelta) -> bool:
        return self.start <= t + within and (self.end is None or self.end >= t - within)

    def to_json(self, tz=None) -> dict[str, Any]:
        """With ``tz`` (the swipe's zone) also the clock times as the reason shows them."""
        out = {"start": self.start.isoformat(), "end": None if self.end is None else self.end.isoformat(),
               "reason": self.reason}
        if self.keyframes:
            out["keyframes"] = dict(self.keyframes)
        if tz is not None:
            out["from"] = f"{self.start.astimezone(tz):%H:%M:%S}"
            out["to"] = None if self.end is None else f"{self.end.astimezone(tz):%H:%M:%S}"
        return out

    def describe(self, tz) -> str:
        """``10:02:11–10:05:40`` in the swipe's zone (``since 10:02:11`` while it lasts)."""
        start = self.start.astimezone(tz)
        if self.end is None:
            return f"since {start:%H:%M:%S}"
        end = self.end.astimezone(tz)
        day = "" if end.date() == start.date() else f"{end:%Y-%m-%d} "
        return f"{start:%H:%M:%S}–{day}{end:%H:%M:%S}"


def _index(spans: dict[CounterKey, list[CameraSpan]]) -> dict[CounterKey, tuple[CameraSpan, ...]]:
    return {key: tuple(sorted(found, key=lambda s: s.start)) for key, found in spans.items() if found}


@dataclass(frozen=True)
class CameraLog:
    """Tamper spans and gaps per counter, each in start order."""

    tamper: dict[CounterKey, tuple[CameraSpan, ...]] = field(default_factory=dict)
    gaps: dict[CounterKey, tuple[CameraSpan, ...]] = field(default_factory=dict)
    truncated: bool = False  # more rows than the audit reads in one go (database.cameras.CAMERA_LOG_MAX)
    _starts: dict[tuple[str, CounterKey], list[datetime]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, tamper: dict[CounterKey, list[CameraSpan]], gaps: dict[CounterKey, list[CameraSpan]],
           truncated: bool = False) -> CameraLog:
        return cls(_index(tamper), _index(gaps), truncated)

    def __bool__(self) -> bool:
        return bool(self.tamper or self.gaps)

    def _at(self, kind: str, key: CounterKey, t: datetime, within: timedelta) -> list[CameraSpan]:
        spans = (self.tamper if kind == "tamper" else self.gaps).get(key, ())
        if not spans:
            return []
        starts = self._starts.get((kind, key))
        if starts is None:
            starts = self._starts[(kind, key)] = [s.start for s in spans]
        # spans starting after t + within cannot overlap; earlier ones may (a long or open span)
        return [s for s in spans[:bisect_right(starts, t + within)] if s.overlaps(t, within)]

    def tamper_at(self, key: CounterKey, t: datetime, within: timedelta = timedelta(0)) -> list[CameraSpan]:
        return self._at("tamper", key, t, within)

    def gaps_at(self, key: CounterKey, t: datetime, within: timedelta = timedelta(0)) -> list[CameraSpan]:
        return self._at("gaps", key, t, within)
