"""Reads for the review UI and the wall API. Every one is scoped to what the principal may see:
an object outside the principal's districts is ``NotFound``, exactly like one that does not exist."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from rxaudit.db.models import CheckRow, FaceSignature, FlagRow, Pharmacy, SettlementRow, Verdict, User
from rxaudit.errors import NotFound
from rxaudit.security import Principal


@dataclass(frozen=True)
class FlagFilters:
    districts: tuple[str, ...] = ()
    pharmacies: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    min_score: float | None = None
    max_score: float | None = None
    sort: str = "newest"  # newest | score
    page: int = 1
    page_size: int = 50
    after_id: int | None = None  # only flags created after this id (live feeds)


@dataclass
class FlagView:
    flag: FlagRow
    settlement: SettlementRow
    district: str | None
    pharmacy_name: str | None


@dataclass
class Page:
    items: list[FlagView]
    total: int
    page: int
    page_size: int
    extra: dict[str, Any] = field(default_factory=dict)


def _scoped(query: Select, principal: Principal) -> Select:
    if principal.districts is not None:
        query = query.where(Pharmacy.district.in_(sorted(principal.districts)))
    return query


def _base() -> Select:
    return (select(FlagRow, SettlementRow, Pharmacy.district, Pharmacy.name)
            .join(SettlementRow, SettlementRow.settlement_id == FlagRow.settlement_id)
            .outerjoin(Pharmacy, Pharmacy.pharmacy_id == SettlementRow.pharmacy_id))


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _settlement_filters(q: Select, f: FlagFilters, tz: ZoneInfo) -> Select:
    """District, pharmacy and local-date filters, for any query over settlements + pharmacies."""
    if f.districts:
        q = q.where(Pharmacy.district.in_(f.districts))
    if f.pharmacies:
        q = q.where(SettlementRow.pharmacy_id.in_(f.pharmacies))
    if f.date_from:
        q = q.where(SettlementRow.settled_at >= _day_start(f.date_from, tz))
    if f.date_to:
        q = q.where(SettlementRow.settled_at < _day_start(f.date_to + timedelta(days=1), tz))
    return q


def _filtered(principal: Principal, f: FlagFilters, tz: ZoneInfo) -> Select:
    q = _settlement_filters(_scoped(_base(), principal), f, tz)
    if f.kinds:
        q = q.where(FlagRow.kind.in_(f.kinds))
    if f.statuses:
        q = q.where(FlagRow.review_status.in_(f.statuses))
    if f.min_score is not None:
        q = q.where(FlagRow.score >= f.min_score)
    if f.max_score is not None:
        q = q.where(FlagRow.score <= f.max_score)
    if f.after_id is not None:
        q = q.where(FlagRow.id > f.after_id)
    return q


def list_flags(session: Session, principal: Principal, f: FlagFilters, tz: ZoneInfo) -> Page:
    q = _filtered(principal, f, tz)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    order = ((FlagRow.score.desc(), FlagRow.id.desc()) if f.sort == "score"
             else (SettlementRow.settled_at.desc(), FlagRow.id.desc()))
    rows = session.execute(q.order_by(*order).offset((f.page - 1) * f.page_size).limit(f.page_size))
    return Page([FlagView(*row) for row in rows], total, f.page, f.page_size)


def all_flag_ids(session: Session, principal: Principal, f: FlagFilters, tz: ZoneInfo,
                 limit: int) -> list[int]:
    q = _filtered(principal, f, tz).with_only_columns(FlagRow.id).order_by(FlagRow.id).limit(limit)
    return list(session.scalars(q))


def get_flag(session: Session, principal: Principal, flag_id: int) -> FlagView:
    row = session.execute(_scoped(_base(), principal).where(FlagRow.id == flag_id)).first()
    if row is None:
        raise NotFound(f"flag {flag_id}")
    return FlagView(*row)


def get_settlement(session: Session, principal: Principal, settlement_id: str) -> tuple[SettlementRow, CheckRow | None, str | None, list[FlagRow]]:
    q = _scoped(select(SettlementRow, Pharmacy.district)
                .outerjoin(Pharmacy, Pharmacy.pharmacy_id == SettlementRow.pharmacy_id), principal)
    row = session.execute(q.where(SettlementRow.settlement_id == settlement_id)).first()
    if row is None:
        raise NotFound(f"settlement {settlement_id}")
    settlement, district = row
    flags = list(session.scalars(select(FlagRow).where(FlagRow.settlement_id == settlement_id)))
    return settlement, session.get(CheckRow, settlement_id), district, flags


def verdict_history(session: Session, flag_id: int) -> list[dict[str, Any]]:
    rows = session.execute(select(Verdict, User.name).join(User, User.id == Verdict.user_id)
                           .where(Verdict.flag_id == flag_id).order_by(Verdict.created_at, Verdict.id))
    return [{"id": v.id, "who": name, "action": v.action, "note": v.note, "boxes": v.boxes,
             "at": v.created_at.isoformat()} for v, name in rows]


def related(session: Session, principal: Principal, view: FlagView, *, face_threshold: float,
            limit: int = 20) -> dict[str, list[FlagView]]:
    """Other flags of the same card, the same face and the same pharmacy (visible ones only)."""
    s = view.settlement
    card = _scoped(_base(), principal).where(SettlementRow.card_hash == s.card_hash,
                                             FlagRow.id != view.flag.id)
    pharmacy = _scoped(_base(), principal).where(SettlementRow.pharmacy_id == s.pharmacy_id,
                                                 FlagRow.id != view.flag.id)
    out = {
        "card": [FlagView(*r) for r in session.execute(card.order_by(FlagRow.id.desc()).limit(limit))],
        "pharmacy": [FlagView(*r) for r in session.execute(pharmacy.order_by(FlagRow.id.desc()).limit(limit))],
        "face": [],
    }
    mine = session.get(FaceSignature, s.settlement_id)
    if mine is not None:
        ref = np.frombuffer(mine.encoding, dtype=np.float32)
        window = timedelta(days=90)
        near = [r.settlement_id for r in session.scalars(select(FaceSignature).where(
            FaceSignature.settled_at.between(s.settled_at - window, s.settled_at + window),
            FaceSignature.settlement_id != s.settlement_id))
            if float(np.linalg.norm(np.frombuffer(r.encoding, dtype=np.float32) - ref)) <= face_threshold]
        if near:
            q = _scoped(_base(), principal).where(SettlementRow.settlement_id.in_(near))
            out["face"] = [FlagView(*r) for r in session.execute(q.order_by(FlagRow.id.desc()).limit(limit))]
    return out


def stats(session: Session, principal: Principal, f: FlagFilters, tz: ZoneInfo) -> dict[str, Any]:
    q = _filtered(principal, f, tz).with_only_columns(
        FlagRow.kind, FlagRow.review_status, SettlementRow.pharmacy_id, Pharmacy.district,
        SettlementRow.settled_at)
    by: dict[str, Counter] = defaultdict(Counter)
    total = 0
    for kind, status, pharmacy_id, district, settled_at in session.execute(q):
        total += 1
        by["kind"][kind] += 1
        by["status"][status] += 1
        by["pharmacy"][pharmacy_id] += 1
        by["district"][district or "(none)"] += 1
        by["day"][settled_at.astimezone(tz).date().isoformat()] += 1
    reviewed = by["status"]["confirmed"] + by["status"]["dismissed"]
    return {
        "total": total,
        **{f"by_{k}": dict(sorted(by[k].items())) for k in ("district", "pharmacy", "kind", "day", "status")},
        "confirmed_rate": round(by["status"]["confirmed"] / reviewed, 3) if reviewed else None,
    }


def footfall(session: Session, principal: Principal, f: FlagFilters, tz: ZoneInfo, *,
             alert_ratio: float, alert_min_swipes: int) -> list[dict[str, Any]]:
    """Distinct visitors seen vs settlements, per pharmacy and day (audited settlements only)."""
    q = _scoped(select(SettlementRow.pharmacy_id, SettlementRow.counter_id, SettlementRow.settled_at,
                       CheckRow.seen, CheckRow.status, Pharmacy.district, Pharmacy.name)
                .join(CheckRow, CheckRow.settlement_id == SettlementRow.settlement_id)
                .outerjoin(Pharmacy, Pharmacy.pharmacy_id == SettlementRow.pharmacy_id), principal)
    q = _settlement_filters(q, f, tz)
    swipes: Counter = Counter()
    verified: Counter = Counter()
    visitors: dict[tuple, set] = defaultdict(set)
    names: dict[str, tuple[str | None, str | None]] = {}
    for pharmacy_id, counter_id, settled_at, seen, status, district, name in session.execute(q):
        key = (pharmacy_id, settled_at.astimezone(tz).date().isoformat())
        names[pharmacy_id] = (district, name)
        swipes[key] += 1
        if status != "unverifiable":
            verified[key] += 1
        visit = (seen or {}).get("visit")
        if visit:
            visitors[key].add((counter_id, visit.get("track_id"), visit.get("start")))
    out = []
    for key in sorted(swipes):
        n_visitors = len(visitors[key])
        ratio = verified[key] / n_visitors if n_visitors else None
        alert = verified[key] >= alert_min_swipes and (ratio is None or ratio >= alert_ratio)
        out.append({"pharmacy_id": key[0], "day": key[1], "district": names[key[0]][0],
                    "name": names[key[0]][1], "settlements": swipes[key],
                    "verified_settlements": verified[key], "visitors": n_visitors,
                    "swipes_per_visitor": None if ratio is None else round(ratio, 2), "alert": alert})
    return out
