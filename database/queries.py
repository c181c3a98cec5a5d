"""Reads for the review UI and the wall API. Every one is scoped to what the principal may see:
an object outside the principal's districts is ``NotFound``, exactly like one that does not exist."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from database import aggregates
from database.models import (CheckRow, FaceSignature, FlagCount, FlagRow, FootfallDay, FootfallVisit,
                               Pharmacy, SettlementRow, User, Verdict)
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
    updated_since: datetime | None = None  # only flags created or changed at or after this time


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
    if f.updated_since is not None:
        q = q.where(FlagRow.updated_at >= f.updated_since)
    return q


def _pharmacies_in(districts) -> Select:
    return select(Pharmacy.pharmacy_id).where(Pharmacy.district.in_(sorted(districts)))


def _flag_conditions(principal: Principal, f: FlagFilters, tz: ZoneInfo) -> list:
    """The filters on ``flags`` alone (it carries its settlement's pharmacy and time), so that lists
    and counts run on its indexes without a join. Same meaning as :func:`_filtered`."""
    conds: list = []
    if principal.districts is not None:
        conds.append(FlagRow.pharmacy_id.in_(_pharmacies_in(principal.districts)))
    if f.districts:
        conds.append(FlagRow.pharmacy_id.in_(_pharmacies_in(f.districts)))
    if f.pharmacies:
        conds.append(FlagRow.pharmacy_id.in_(f.pharmacies))
    if f.date_from:
        conds.append(FlagRow.settled_at >= _day_start(f.date_from, tz))
    if f.date_to:
        conds.append(FlagRow.settled_at < _day_start(f.date_to + timedelta(days=1), tz))
    if f.kinds:
        conds.append(FlagRow.kind.in_(f.kinds))
    if f.statuses:
        conds.append(FlagRow.review_status.in_(f.statuses))
    if f.min_score is not None:
        conds.append(FlagRow.score >= f.min_score)
    if f.max_score is not None:
        conds.append(FlagRow.score <= f.max_score)
    if f.after_id is not None:
        conds.append(FlagRow.id > f.after_id)
    if f.updated_since is not None:
        conds.append(FlagRow.updated_at >= f.updated_since)
    return conds


def _day_table_conditions(table, principal: Principal, f: FlagFilters) -> list:
    """Scope, pharmacy and day filters on a table of counts kept per pharmacy and local day."""
    conds: list = []
    if principal.districts is not None:
        conds.append(table.pharmacy_id.in_(_pharmacies_in(principal.districts)))
    if f.districts:
        conds.append(table.pharmacy_id.in_(_pharmacies_in(f.districts)))
    if f.pharmacies:
        conds.append(table.pharmacy_id.in_(f.pharmacies))
    if f.date_from:
        conds.append(table.day >= f.date_from.isoformat())
    if f.date_to:
        conds.append(table.day <= f.date_to.isoformat())
    return conds


def _count_conditions(principal: Principal, f: FlagFilters) -> list:
    """The same filters on the kept counts (``flag_counts``); days are local days there."""
    conds = _day_table_conditions(FlagCount, principal, f)
    if f.kinds:
        conds.append(FlagCount.kind.in_(f.kinds))
    if f.statuses:
        conds.append(FlagCount.review_status.in_(f.statuses))
    return conds


def _counts_apply(session: Session, f: FlagFilters, tz: ZoneInfo) -> bool:
    """The kept counts answer these filters (no score or id bounds) in this time zone."""
    return (f.min_score is None and f.max_score is None and f.after_id is None and f.updated_since is None
            and aggregates.counts_usable(session, tz))


def count_flags(session: Session, principal: Principal, f: FlagFilters, tz: ZoneInfo) -> int:
    if _counts_apply(session, f, tz):
        return int(session.scalar(select(func.coalesce(func.sum(FlagCount.n), 0))
                                  .where(*_count_conditions(principal, f))) or 0)
    return session.scalar(select(func.count()).select_from(FlagRow)
                          .where(*_flag_conditions(principal, f, tz))) or 0


def list_flags(session: Session, principal: Principal, f: FlagFilters, tz: ZoneInfo) -> Page:
    """One page: the page's flag ids from ``flags``' own indexes, then those rows joined."""
    order = ((FlagRow.score.desc(), FlagRow.id.desc()) if f.sort == "score"
             else (FlagRow.settled_at.desc(), FlagRow.id.desc()))
    ids = list(session.scalars(select(FlagRow.id).where(*_flag_conditions(principal, f, tz))
                               .order_by(*order).offset((f.page - 1) * f.page_size).limit(f.page_size)))
    items: list[FlagView] = []
    if ids:
        rows = session.execute(_base().where(FlagRow.id.in_(ids)).order_by(*order))
        items = [FlagView(*row) for row in rows]
    return Page(items, count_flags(session, principal, f, tz), f.page, f.page_size)


def all_flag_ids(session: Session, principal: Principal, f: FlagFilters, tz: ZoneInfo,
                 limit: int) -> list[int]:
    q = select(FlagRow.id).where(*_flag_conditions(principal, f, tz)).order_by(FlagRow.id).limit(limit)
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
             "reason": v.reason, "bulk": v.bulk, "at": v.created_at.isoformat()} for v, name in rows]


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


def _districts(session: Session) -> dict[str, str]:
    return {p: d for p, d in session.execute(select(Pharmacy.pharmacy_id, Pharmacy.district))}


MAX_DISTRICT_CHOICES = 500


def district_choices(session: Session, principal: Principal) -> list[str]:
    """The districts ``principal`` may filter on, for the queue's list: its own, or every district the
    registry names (at most ``MAX_DISTRICT_CHOICES``), sorted."""
    if principal.districts is not None:
        return sorted(principal.districts)[:MAX_DISTRICT_CHOICES]
    q = (select(Pharmacy.district).where(Pharmacy.district.is_not(None), Pharmacy.district != "")
         .distinct().order_by(Pharmacy.district).limit(MAX_DISTRICT_CHOICES))
    return list(session.scalars(q))


def flags_without_district(session: Session, principal: Principal, tz: ZoneInfo) -> int:
    """Flags at pharmacies the registry gives no district (absent or blank): no inspector sees them.
    Zero for a principal scoped to districts (it cannot see them either)."""
    if principal.districts is not None:
        return 0
    lacking = or_(Pharmacy.district.is_(None), Pharmacy.district == "")
    if aggregates.counts_usable(session, tz):  # a sum over the counts kept on write
        q = (select(func.coalesce(func.sum(FlagCount.n), 0)).select_from(FlagCount)
             .outerjoin(Pharmacy, Pharmacy.pharmacy_id == FlagCount.pharmacy_id).where(lacking))
    else:
        q = (select(func.count()).select_from(FlagRow)
             .outerjoin(Pharmacy, Pharmacy.pharmacy_id == FlagRow.pharmacy_id).where(lacking))
    return int(session.scalar(q) or 0)


def stats(session: Session, principal: Principal, f: FlagFilters, tz: ZoneInfo) -> dict[str, Any]:
    """Counts of the flags ``principal`` sees. ``head_id``: the highest flag id when counting began,
    read first: a live feed resumed after it counts each later flag once (one committed while the
    counts are read may be counted here and come again on the feed; a client's periodic refresh
    sets it right)."""
    head_id = session.scalar(select(func.max(FlagRow.id))) or 0
    by: dict[str, Counter] = defaultdict(Counter)
    total = 0
    if _counts_apply(session, f, tz):  # from the counts kept on write, grouped by the database
        conds = (*_count_conditions(principal, f), FlagCount.n > 0)
        for name, column in (("kind", FlagCount.kind), ("status", FlagCount.review_status),
                             ("pharmacy", FlagCount.pharmacy_id), ("day", FlagCount.day)):
            for key, n in session.execute(select(column, func.sum(FlagCount.n)).where(*conds).group_by(column)):
                if int(n) > 0:
                    by[name][key] += int(n)
        total = sum(by["kind"].values())
        district_of = _districts(session)
        for pharmacy_id, n in by["pharmacy"].items():
            by["district"][district_of.get(pharmacy_id) or "(none)"] += n
    else:  # score or id bounds, or counts kept for another time zone: count the flags themselves
        q = _filtered(principal, f, tz).with_only_columns(
            FlagRow.kind, FlagRow.review_status, SettlementRow.pharmacy_id, Pharmacy.district,
            SettlementRow.settled_at)
        for kind, status, pharmacy_id, district, settled_at in session.execute(q):
            total += 1
            by["kind"][kind] += 1
            by["status"][status] += 1
            by["pharmacy"][pharmacy_id] += 1
            by["district"][district or "(none)"] += 1
            by["day"][settled_at.astimezone(tz).date().isoformat()] += 1
    reviewed = by["status"]["confirmed"] + by["status"]["dismissed"]
    return {
        "total": total, "head_id": head_id,
        **{f"by_{k}": dict(sorted(by[k].items())) for k in ("district", "pharmacy", "kind", "day", "status")},
        "confirmed_rate": round(by["status"]["confirmed"] / reviewed, 3) if reviewed else None,
    }


def footfall(session: Session, principal: Principal, f: FlagFilters, tz: ZoneInfo, *,
             alert_ratio: float, alert_min_swipes: int) -> list[dict[str, Any]]:
    """Distinct visitors seen vs settlements, per pharmacy and day (audited settlements only)."""
    if aggregates.counts_usable(session, tz):
        return _footfall_kept(session, principal, f, alert_ratio=alert_ratio, alert_min_swipes=alert_min_swipes)
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


def _footfall_kept(session: Session, principal: Principal, f: FlagFilters, *, alert_ratio: float,
                   alert_min_swipes: int) -> list[dict[str, Any]]:
    """:func:`footfall` from the counts kept on write (``footfall_days``, ``footfall_visits``)."""
    def conds(table) -> list:
        return _day_table_conditions(table, principal, f)

    visitors = dict(((p, d), n) for p, d, n in session.execute(
        select(FootfallVisit.pharmacy_id, FootfallVisit.day, func.count())
        .where(*conds(FootfallVisit), FootfallVisit.n > 0)
        .group_by(FootfallVisit.pharmacy_id, FootfallVisit.day)))
    names = {p: (d, n) for p, d, n in session.execute(
        select(Pharmacy.pharmacy_id, Pharmacy.district, Pharmacy.name))}
    out = []
    for pharmacy_id, day, settlements, verified in session.execute(
            select(FootfallDay.pharmacy_id, FootfallDay.day, FootfallDay.settlements, FootfallDay.verified)
            .where(*conds(FootfallDay), FootfallDay.settlements > 0)
            .order_by(FootfallDay.pharmacy_id, FootfallDay.day)):
        n_visitors = visitors.get((pharmacy_id, day), 0)
        ratio = verified / n_visitors if n_visitors else None
        alert = verified >= alert_min_swipes and (ratio is None or ratio >= alert_ratio)
        district, name = names.get(pharmacy_id, (None, None))
        out.append({"pharmacy_id": pharmacy_id, "day": day, "district": district, "name": name,
                    "settlements": settlements, "verified_settlements": verified, "visitors": n_visitors,
                    "swipes_per_visitor": None if ratio is None else round(ratio, 2), "alert": alert})
    return out
