"""The other settlements a flag is about (a duplicate's original, a card's other pharmacy, a burst's
swipes, a pooled visit's cards, a traceability code's other sales), with the facts that decide the
flag: when, where (pharmacy), how much, how far apart in time, and the distance in km and in driving
minutes (``travel_speed_kmh``, the rule's own speed).

A partner may lie in a district the viewer cannot see. Then the page shows only those facts: never
its card, items, flags, district or reviews, and no link into it (the viewer's flag pages would
refuse it anyway). A partner the viewer may see links to its flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.flag_facts import first_seen
from api.review_nav import involved_ids
from database.models import FlagRow, Pharmacy, SettlementRow, SoldTraceCode
from database.queries import FlagView
from rxaudit.records import Location
from rxaudit.security import Principal

MAX_PARTNERS = 24
PARTNER_KINDS = ("duplicate_settlement", "card_conflict", "burst", "card_pooling", "trace_code_reuse")


@dataclass(frozen=True)
class Partner:
    settlement_id: str
    settled_at: datetime
    pharmacy_id: str
    pharmacy_name: str
    counter_id: str
    amount: Decimal
    gap_s: float  # the partner's time minus this settlement's
    distance_km: float | None
    drive_min: float | None  # minutes to drive that distance at travel_speed_kmh
    needed_s: float | None  # card conflicts: the least time the rule allowed between them
    visible: bool  # in the viewer's districts
    flag_id: int | None  # a flag of the viewer's to open (visible partners only)
    same_pharmacy: bool
    codes: tuple[str, ...] = ()  # trace codes shared with this settlement


def _ids(session: Session, view: FlagView, burst_window_s: float,
         shared: dict[str, list[str]]) -> list[str]:
    s = view.settlement
    kind = view.flag.kind
    if kind == "burst":  # the rule stores no member list: this counter's swipes within the window
        window = timedelta(seconds=burst_window_s)
        rows = session.scalars(select(SettlementRow.settlement_id).where(
            SettlementRow.pharmacy_id == s.pharmacy_id, SettlementRow.counter_id == s.counter_id,
            SettlementRow.settled_at.between(s.settled_at - window, s.settled_at + window))
            .order_by(SettlementRow.settled_at).limit(MAX_PARTNERS * 4))
        return [i for i in rows if i != s.settlement_id][:MAX_PARTNERS]
    ids = [i for i in involved_ids(view) if i != s.settlement_id]
    return list(dict.fromkeys([*ids, *shared]))[:MAX_PARTNERS]


def shared_codes(session: Session, view: FlagView, codes: list[str]) -> dict[str, list[str]]:
    """Other settlements holding any of ``codes``: settlement id -> the codes it shares."""
    if not codes:
        return {}
    rows = session.execute(select(SoldTraceCode.settlement_id, SoldTraceCode.code)
                           .where(SoldTraceCode.code.in_(codes[:200]),
                                  SoldTraceCode.settlement_id != view.settlement.settlement_id)
                           .order_by(SoldTraceCode.settlement_id, SoldTraceCode.code).limit(MAX_PARTNERS * 8))
    out: dict[str, list[str]] = {}
    for sid, code in rows:
        if code not in out.setdefault(sid, []):
            out[sid].append(code)
    return out


def partners(session: Session, who: Principal, view: FlagView, *, burst_window_s: float,
             travel_speed_kmh: float, codes: list[str] | None = None) -> list[Partner]:
    """The partners of a flag of a kind in :data:`PARTNER_KINDS`, in time order (else [])."""
    if view.flag.kind not in PARTNER_KINDS:
        return []
    shared = shared_codes(session, view, codes or []) if view.flag.kind == "trace_code_reuse" else {}
    ids = _ids(session, view, burst_window_s, shared)
    if not ids:
        return []
    s = view.settlement
    # deliberately unscoped, and only these columns: the facts a partner may show in any district
    rows = session.execute(
        select(SettlementRow.settlement_id, SettlementRow.settled_at, SettlementRow.pharmacy_id,
               SettlementRow.counter_id, SettlementRow.amount, Pharmacy.name, Pharmacy.district,
               Pharmacy.lat, Pharmacy.lon)
        .outerjoin(Pharmacy, Pharmacy.pharmacy_id == SettlementRow.pharmacy_id)
        .where(SettlementRow.settlement_id.in_(ids))).all()
    here = session.execute(select(Pharmacy.lat, Pharmacy.lon).where(Pharmacy.pharmacy_id == s.pharmacy_id)).first()
    origin = _location(here.lat, here.lon) if here else None
    conflicts = {str(c.get("settlement_id")): c for c in first_seen(view).get("conflicts") or []
                 if isinstance(c, dict)}

    def visible(district: str | None) -> bool:
        return who.districts is None or (district is not None and district in who.districts)

    seen_ids = [r.settlement_id for r in rows if visible(r.district)]
    flags: dict[str, int] = {}
    if seen_ids:
        for sid, fid, kind in session.execute(select(FlagRow.settlement_id, FlagRow.id, FlagRow.kind)
                                              .where(FlagRow.settlement_id.in_(seen_ids)).order_by(FlagRow.id)):
            if sid not in flags or kind == view.flag.kind:
                flags[sid] = fid
    out = []
    for r in rows:
        there = _location(r.lat, r.lon)
        km = None
        if r.pharmacy_id == s.pharmacy_id:
            km = 0.0
        elif origin is not None and there is not None:
            km = origin.km_to(there)
        conflict = conflicts.get(r.settlement_id, {})
        if km is None and isinstance(conflict.get("distance_km"), int | float):
            km = float(conflict["distance_km"])
        needed = conflict.get("limit_s")
        out.append(Partner(
            r.settlement_id, r.settled_at, r.pharmacy_id, r.name or "", r.counter_id, r.amount,
            gap_s=(r.settled_at - s.settled_at).total_seconds(),
            distance_km=None if km is None else round(km, 1),
            drive_min=None if km is None else round(km / travel_speed_kmh * 60, 1),
            needed_s=float(needed) if isinstance(needed, int | float) else None,
            visible=visible(r.district), flag_id=flags.get(r.settlement_id) if visible(r.district) else None,
            same_pharmacy=r.pharmacy_id == s.pharmacy_id, codes=tuple(shared.get(r.settlement_id, ()))))
    return sorted(out, key=lambda p: (p.settled_at, p.settlement_id))


def _location(lat: Any, lon: Any) -> Location | None:
    try:
        return None if lat is None or lon is None else Location(float(lat), float(lon))
    except (TypeError, ValueError):
        return None
