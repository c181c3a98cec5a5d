"""A sample bundle replayed live (``rxaudit push-settlements``, ``rxaudit live-demo``, ``bench-live``): its
settlements as the JSON objects ``POST /api/v1/settlements`` takes, and the one clock that maps the
bundle's day onto the wall clock, shared by the pusher and the demo cameras so that the camera's picture
at wall time T is the bundle's footage for the swipe shifted to T.

The clock (:class:`Replay`) is a shift (the bundle's first swipe at ``start``), optionally with long idle
stretches cut short (``max_idle_s``: a stretch of the day with no footage and no swipe longer than that
lasts ``max_idle_s`` on the wall), optionally faster (``speed``: wall seconds = bundle seconds / speed;
only speed 1 keeps the footage true to the swipes). Card ids stay as the log has them (the server hashes
them at the door); nothing here is written anywhere.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rxaudit.errors import InputError

SETTLEMENT_FIELDS = ("settlement_id", "pharmacy_id", "counter_id", "settled_at", "card_id", "amount")
MAX_ROWS = 1_000_000  # settlements one replay reads (a city's day is far fewer)


@dataclass(frozen=True)
class BundleSettlement:
    at: datetime  # the swipe in the bundle's day
    record: dict[str, Any]  # the JSON object, its settled_at still the bundle's


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str


@dataclass
class BundleLog:
    settlements: list[BundleSettlement] = field(default_factory=list)  # in swipe order
    skipped: list[Skipped] = field(default_factory=list)


def _items(folder: Path) -> dict[str, list[dict[str, Any]]]:
    path = folder / "settlement_items.csv"
    out: dict[str, list[dict[str, Any]]] = {}
    if not path.exists():
        return out
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            codes = [c for c in (row.get("trace_codes") or "").split(";") if c]
            out.setdefault(row["settlement_id"], []).append({
                "item_code": row["item_code"], "item_name": row["item_name"], "quantity": row["quantity"],
                "unit_price": row["unit_price"], "trace_codes": codes})
    return out


def read_bundle(folder: Path) -> BundleLog:
    """A bundle's ``settlements.csv`` (+ ``settlement_items.csv``) as records in swipe order. A line whose
    time does not parse (with its offset) cannot be placed on the clock: it is skipped, by line number."""
    path = Path(folder) / "settlements.csv"
    if not path.exists():
        raise InputError(f"{folder}: no settlements.csv (make one with rxaudit sample --out DIR)")
    items = _items(Path(folder))
    log = BundleLog()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [f for f in SETTLEMENT_FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing columns {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            if len(log.settlements) >= MAX_ROWS:
                raise InputError(f"{path}: more than {MAX_ROWS} settlements")
            try:
                at = datetime.fromisoformat(row["settled_at"])
            except (TypeError, ValueError):
                log.skipped.append(Skipped(line, "settled_at is not an ISO 8601 time"))
                continue
            if at.tzinfo is None:
                log.skipped.append(Skipped(line, "settled_at has no UTC offset"))
                continue
            record: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v is not None}
            record["items"] = items.get(row["settlement_id"], [])
            log.settlements.append(BundleSettlement(at, record))
    log.settlements.sort(key=lambda s: s.at)
    return log


def footage_spans(videos: Path, *, segment_s: float = 60.0, pattern: str = "*/*/*.mp4"
                  ) -> list[tuple[datetime, datetime]]:
    """The spans of the bundle's day that have footage at some counter (``pattern``: of one counter, e.g.
    ``PH1/C1/*.mp4``) from the segment names (a sample segment lasts at most ``segment_s``), merged."""
    from ingest.video_store import parse_segment_name

    spans = []
    for path in sorted(Path(videos).glob(pattern)):
        start = parse_segment_name(path.name)
        if start is not None:
            spans.append((start, start + timedelta(seconds=segment_s)))
    return merge(spans)


def merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


@dataclass(frozen=True)
class Replay:
    """Bundle time -> wall time: ``breaks`` are (bundle time, wall time) pairs, increasing; between two,
    wall time runs at 1/``speed`` of bundle time; before the first, the shift of the first applies."""

    breaks: tuple[tuple[datetime, datetime], ...]
    speed: float = 1.0

    @classmethod
    def plan(cls, first_swipe: datetime, start: datetime, *, speed: float = 1.0, max_idle_s: float | None = None,
             busy: list[tuple[datetime, datetime]] = ()) -> Replay:
        """``first_swipe`` (bundle) at ``start`` (wall). With ``max_idle_s``, each gap between the
        ``busy`` spans (footage, swipes: bundle time) longer than it is cut to it."""
        if not 0.01 <= speed <= 1000:
            raise InputError("--speed must be between 0.01 and 1000")
        breaks = [(first_swipe, start)]
        if max_idle_s is not None:
            spans = merge(list(busy))
            for (_, end), (nxt, _) in zip(spans, spans[1:]):
                if nxt <= first_swipe or (nxt - end).total_seconds() <= max_idle_s:
                    continue
                cut_from = max(end, first_swipe) + timedelta(seconds=max_idle_s)
                if nxt <= cut_from:
                    continue
                breaks.append((nxt, cls(tuple(breaks), speed).wall(cut_from)))
        return cls(tuple(breaks), speed)

    def wall(self, at: datetime) -> datetime:
        k = max(0, bisect.bisect_right([b for b, _ in self.breaks], at) - 1)
        b, w = self.breaks[k]
        return w + (at - b) / self.speed

    def bundle(self, wall: datetime) -> datetime:
        """The bundle time shown at ``wall`` (inside a cut: the end of the cut)."""
        k = max(0, bisect.bisect_right([w for _, w in self.breaks], wall) - 1)
        b, w = self.breaks[k]
        return b + (wall - w) * self.speed

    def shifted(self, s: BundleSettlement) -> tuple[datetime, dict[str, Any]]:
        """When to post it (wall) and the record with its settled_at there (the bundle's UTC offset)."""
        when = self.wall(s.at)
        record = dict(s.record)
        record["settled_at"] = when.astimezone(s.at.tzinfo).isoformat(timespec="milliseconds")
        return when, record


@dataclass(frozen=True)
class Laps:
    """A replay played again and again (a counter kept busy for as long as a benchmark runs): from
    ``start`` (wall), lap ``n`` shows at ``w + n * length`` what lap 0 shows at ``w``. ``wall`` maps a
    bundle time into lap 0; :func:`lap_record` names a settlement's copy in a later lap."""

    inner: Replay
    start: datetime
    length: timedelta

    def __post_init__(self) -> None:
        if self.length <= timedelta(0):
            raise InputError("a lap must last longer than 0 s")

    def wall(self, at: datetime) -> datetime:
        return self.inner.wall(at)

    def bundle(self, wall: datetime) -> datetime:
        if wall < self.start:
            return self.inner.bundle(wall)
        return self.inner.bundle(wall - ((wall - self.start) // self.length) * self.length)


def marked_copy(record: dict[str, Any], *, suffix: str, mark: Callable[[str], str] | None = None,
                **changes: Any) -> dict[str, Any]:
    """A settlement swiped again elsewhere or later (bench-live's replicas and laps): its id with
    ``suffix``, ``changes`` applied, and ``mark`` (None: none) applied to its card id and every
    traceability code, so that copies neither pool one card nor sell one box twice."""
    out = dict(record, settlement_id=f"{record['settlement_id']}{suffix}", **changes)
    if mark is not None:
        out["card_id"] = mark(record["card_id"])
        out["items"] = [dict(i, trace_codes=[mark(c) for c in i.get("trace_codes", [])])
                        for i in record.get("items", [])]
    return out


def lap_record(record: dict[str, Any], lap: int) -> dict[str, Any]:
    """The settlement as lap ``lap`` (1..99) swipes it again: an id of its own, and card ids and
    traceability codes marked in their 3rd-4th characters (:func:`marked_copy`; a bundle's planted
    patterns stay inside each lap). Lap 0 is the record itself."""
    if lap == 0:
        return record
    if not 1 <= lap <= 99:
        raise InputError("laps: 1 to 99")
    return marked_copy(record, suffix=f"L{lap}", mark=lambda v: f"{v[:2]}{lap:02d}{v[4:]}" if len(v) > 5 else v)
