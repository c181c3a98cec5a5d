"""Camera health and recording gaps (written by ``rxaudit record``): keyword-only functions over a
Session. Stream URLs arrive redacted; nothing here sees a password."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from database.models import (CameraClockRow, CameraGapRow, CameraHealthRow, CameraTamperRow, FlagRow, Pharmacy,
                             SegmentEntry, utcnow)
from reconcile.camera_log import CameraLog, CameraSpan
from rxaudit.security import Principal


@dataclass(frozen=True)
class CameraView:
    health: CameraHealthRow
    district: str | None
    open_gap: CameraGapRow | None
    gaps: tuple[CameraGapRow, ...]
    tamper: tuple[CameraTamperRow, ...] = ()  # the latest tamper spans, newest first (``max_tamper``)


def save_health(session: Session, *, pharmacy_id: str, counter_id: str, **fields) -> None:
    row = session.get(CameraHealthRow, (pharmacy_id, counter_id))
    if row is None:
        row = CameraHealthRow(pharmacy_id=pharmacy_id, counter_id=counter_id)
        session.add(row)
    for name, value in fields.items():
        setattr(row, name, value)
    row.updated_at = utcnow()


def open_gap(session: Session, *, pharmacy_id: str, counter_id: str, start: datetime, reason: str) -> int:
    """A gap that is still open for this counter is kept (its start is the earlier one)."""
    existing = session.scalar(select(CameraGapRow).where(
        CameraGapRow.pharmacy_id == pharmacy_id, CameraGapRow.counter_id == counter_id,
        CameraGapRow.end.is_(None)))
    if existing is not None:
        return existing.id
    row = CameraGapRow(pharmacy_id=pharmacy_id, counter_id=counter_id, start=start, reason=reason[:255])
    session.add(row)
    session.flush()
    return row.id


def close_gap(session: Session, *, pharmacy_id: str, counter_id: str, end: datetime) -> None:
    for row in session.scalars(select(CameraGapRow).where(
            CameraGapRow.pharmacy_id == pharmacy_id, CameraGapRow.counter_id == counter_id,
            CameraGapRow.end.is_(None))):
        row.end = max(end, row.start)


def last_frames(session: Session, *, keys: list[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """The last frame each counter's recorder saw, for the gap a restarted recorder opens."""
    out = {}
    for row in session.scalars(select(CameraHealthRow)):
        if (row.pharmacy_id, row.counter_id) in keys and row.last_frame_at is not None:
            out[(row.pharmacy_id, row.counter_id)] = row.last_frame_at
    return out


CAMERAS_MAX = 5000  # counters in one answer (a city's recorders); more: a bound, not a silent cut-off


def cameras(session: Session, *, principal: Principal | None = None, gaps_since: datetime | None = None,
            max_gaps: int = 20, limit: int = CAMERAS_MAX, max_tamper: int = 0) -> list[CameraView]:
    """Every recorded counter the principal may see (``None``: all), with its latest gaps (and its
    latest ``max_tamper`` tamper spans)."""
    query = (select(CameraHealthRow, Pharmacy.district)
             .outerjoin(Pharmacy, Pharmacy.pharmacy_id == CameraHealthRow.pharmacy_id)
             .order_by(CameraHealthRow.pharmacy_id, CameraHealthRow.counter_id).limit(limit))
    if principal is not None and principal.districts is not None:
        query = query.where(Pharmacy.district.in_(sorted(principal.districts)))
    views = []
    for health, district in session.execute(query):
        q = (select(CameraGapRow).where(CameraGapRow.pharmacy_id == health.pharmacy_id,
                                        CameraGapRow.counter_id == health.counter_id)
             .order_by(CameraGapRow.start.desc()).limit(max_gaps))
        if gaps_since is not None:
            q = q.where((CameraGapRow.end.is_(None)) | (CameraGapRow.end >= gaps_since))
        gaps = tuple(session.scalars(q))
        open_ = next((g for g in gaps if g.end is None), None)
        tamper = ()
        if max_tamper > 0:
            tamper = tuple(session.scalars(select(CameraTamperRow).where(
                CameraTamperRow.pharmacy_id == health.pharmacy_id, CameraTamperRow.counter_id == health.counter_id)
                .order_by(CameraTamperRow.start.desc()).limit(max_tamper)))
        views.append(CameraView(health, district, open_, gaps, tamper))
    return views


HOLDING = ("open", "escalated", "confirmed")  # a flag whose clip must outlive retention


def clips_held(session: Session, *, pharmacy_ids: list[str], before: datetime) -> set[str]:
    """Store-relative segment paths the evidence of open, escalated or confirmed flags points to,
    for settlements at these pharmacies up to a day after ``before`` (a segment holds earlier time)."""
    held: set[str] = set()
    query = (select(FlagRow.evidence).where(FlagRow.pharmacy_id.in_(pharmacy_ids),
                                            FlagRow.review_status.in_(HOLDING),
                                            FlagRow.settled_at < before + timedelta(days=1))
             .execution_options(yield_per=1000))
    for evidence in session.scalars(query):
        for item in (evidence or {}).get("items", []):
            clip = item.get("clip") if isinstance(item, dict) else None
            if isinstance(clip, str) and clip:
                held.add(clip.split("#", 1)[0])
    return held


def forget_segments(session: Session, *, pharmacy_id: str, counter_id: str, names: list[str]) -> None:
    """Deleted segments leave the audit's cached segment index (every store location)."""
    for start in range(0, len(names), 500):
        session.execute(delete(SegmentEntry).where(
            SegmentEntry.pharmacy_id == pharmacy_id, SegmentEntry.counter_id == counter_id,
            SegmentEntry.name.in_(names[start:start + 500])))


def open_tamper(session: Session, *, pharmacy_id: str, counter_id: str, what: str, start: datetime,
                last_good_at: datetime | None, keyframe_before: str | None = None,
                keyframe_after: str | None = None) -> None:
    """``keyframe_*``: evidence-relative JPEGs, the last good picture and the first tampered one."""
    session.add(CameraTamperRow(pharmacy_id=pharmacy_id, counter_id=counter_id, what=what, start=start,
                                last_good_at=last_good_at, keyframe_before=keyframe_before,
                                keyframe_after=keyframe_after))


def close_tamper(session: Session, *, pharmacy_id: str, counter_id: str, end: datetime,
                 keyframe_back: str | None = None) -> None:
    for row in session.scalars(select(CameraTamperRow).where(
            CameraTamperRow.pharmacy_id == pharmacy_id, CameraTamperRow.counter_id == counter_id,
            CameraTamperRow.end.is_(None))):
        row.end = max(end, row.start)
        row.keyframe_back = row.keyframe_back or keyframe_back


def save_clock(session: Session, *, pharmacy_id: str, counter_id: str, at: datetime, camera_minus_recorder_s: float,
               source: str) -> None:
    session.add(CameraClockRow(pharmacy_id=pharmacy_id, counter_id=counter_id, at=at,
                               camera_minus_recorder_s=camera_minus_recorder_s, source=source))


CLOCK_READINGS_MAX = 10_000  # readings one question reads (a counter-day has a few hundred at most)


def clock_readings(session: Session, *, pharmacy_id: str | None = None, counter_id: str | None = None,
                   start: datetime | None = None, end: datetime | None = None,
                   limit: int = CLOCK_READINGS_MAX) -> list[CameraClockRow]:
    """The recorder's readings of cameras' own clocks, oldest first."""
    query = select(CameraClockRow).order_by(CameraClockRow.at).limit(limit)
    if pharmacy_id is not None:
        query = query.where(CameraClockRow.pharmacy_id == pharmacy_id)
    if counter_id is not None:
        query = query.where(CameraClockRow.counter_id == counter_id)
    if start is not None:
        query = query.where(CameraClockRow.at >= start)
    if end is not None:
        query = query.where(CameraClockRow.at < end)
    return list(session.scalars(query))


def tamper_spans(session: Session, *, pharmacy_id: str, counter_id: str, start: datetime,
                 end: datetime) -> list[CameraTamperRow]:
    """Spans overlapping [start, end] at one counter (an open one counts as lasting)."""
    return list(session.scalars(select(CameraTamperRow).where(
        CameraTamperRow.pharmacy_id == pharmacy_id, CameraTamperRow.counter_id == counter_id,
        CameraTamperRow.start <= end, (CameraTamperRow.end.is_(None)) | (CameraTamperRow.end >= start))
        .order_by(CameraTamperRow.start)))


CAMERA_LOG_MAX = 200_000  # tamper spans + gaps one audit reads (each a few hundred bytes)


def camera_log(session: Session, *, windows: dict[tuple[str, str], tuple[datetime, datetime]],
               limit: int = CAMERA_LOG_MAX) -> CameraLog:
    """Tamper spans and gaps overlapping each counter's window (its swipes' camera times, widened by the
    caller), at most ``limit`` rows in all (``truncated`` says the bound was met). One indexed query per
    pharmacy chunk over the whole batch's time; rows outside their own counter's window are dropped."""
    if not windows:
        return CameraLog()
    lo, hi = min(w[0] for w in windows.values()), max(w[1] for w in windows.values())
    pharmacies = sorted({p for p, _ in windows})
    tamper: dict[tuple[str, str], list[CameraSpan]] = {}
    gaps: dict[tuple[str, str], list[CameraSpan]] = {}
    left = limit
    for table, out, extra in ((CameraTamperRow, tamper, (CameraTamperRow.what, CameraTamperRow.keyframe_before,
                                                         CameraTamperRow.keyframe_after)),
                              (CameraGapRow, gaps, (CameraGapRow.reason,))):
        for i in range(0, len(pharmacies), 500):
            if left <= 0:
                break
            rows = session.execute(
                select(table.pharmacy_id, table.counter_id, table.start, table.end, *extra)
                .where(table.pharmacy_id.in_(pharmacies[i:i + 500]), table.start <= hi,
                       table.end.is_(None) | (table.end >= lo))
                .order_by(table.pharmacy_id, table.counter_id, table.start).limit(left)).all()
            left -= len(rows)
            for pharmacy_id, counter_id, start, end, why, *pictures in rows:
                window = windows.get((pharmacy_id, counter_id))
                if window is None or start > window[1] or (end is not None and end < window[0]):
                    continue
                keyframes = tuple((label, rel) for label, rel in zip(("before", "after"), pictures) if rel)
                out.setdefault((pharmacy_id, counter_id), []).append(CameraSpan(start, end, why, keyframes))
    return CameraLog.of(tamper, gaps, truncated=left <= 0)
