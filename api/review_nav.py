"""Moving through the queue from a flag page, and the settlements a flag names.

``neighbours``: the previous and next flag in the queue's own order (same filters, same sort), found by
keyset so it costs two indexed lookups whatever the queue's length. ``linked``: for the kinds that
involve several settlements (card pooling, burst, card conflict, trace-code reuse, duplicates), every
settlement involved with its visible flag, so the page can link them and show their keyframes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from database.models import FlagRow
from database.queries import FlagFilters, FlagView, _base, _flag_conditions, _scoped
from rxaudit.security import Principal

LINKED_KINDS = ("card_pooling", "burst", "card_conflict", "trace_code_reuse", "duplicate_settlement")
MAX_LINKED = 24


def neighbours(session: Session, principal: Principal, flag: FlagRow, f: FlagFilters,
               tz: ZoneInfo) -> tuple[int | None, int | None]:
    """(previous, next) flag ids around ``flag`` in the queue ordered as ``f.sort`` orders it."""
    key = FlagRow.score if f.sort == "score" else FlagRow.settled_at
    value = flag.score if f.sort == "score" else flag.settled_at
    conds = _flag_conditions(principal, f, tz)
    if value is None:
        return None, None
    after = or_(key < value, and_(key == value, FlagRow.id < flag.id))  # further down the queue
    before = or_(key > value, and_(key == value, FlagRow.id > flag.id))
    nxt = session.scalars(select(FlagRow.id).where(*conds, after).order_by(key.desc(), FlagRow.id.desc())
                          .limit(1)).first()
    prev = session.scalars(select(FlagRow.id).where(*conds, before).order_by(key.asc(), FlagRow.id.asc())
                           .limit(1)).first()
    return prev, nxt


def involved_ids(view: FlagView) -> list[str]:
    """Settlement ids a flag's evidence names (itself first)."""
    items = (view.flag.evidence or {}).get("items") or []
    seen: dict[str, Any] = dict(items[0].get("seen") or {}) if items else {}
    ids: list[str] = [view.settlement.settlement_id]
    for key in ("settlements", "same_face_settlements", "linked_settlements"):
        ids.extend(str(x) for x in seen.get(key) or [])
    if seen.get("duplicate_of"):
        ids.append(str(seen["duplicate_of"]))
    return list(dict.fromkeys(ids))[:MAX_LINKED]


@dataclass
class Linked:
    settlement_id: str
    view: FlagView | None  # the visible flag of the same kind on it (else any visible flag), if any


def linked(session: Session, principal: Principal, view: FlagView, *, burst_window_s: float) -> list[Linked]:
    """Every settlement involved, in time order, with a flag the principal may open."""
    if view.flag.kind not in LINKED_KINDS:
        return []
    ids = involved_ids(view)
    if view.flag.kind == "burst":  # the rule stores no member list: the burst flags at this counter nearby
        s = view.settlement
        near = _scoped(_base(), principal).where(
            FlagRow.kind == "burst", FlagRow.pharmacy_id == s.pharmacy_id,
            FlagRow.settled_at.between(s.settled_at - timedelta(seconds=burst_window_s),
                                       s.settled_at + timedelta(seconds=burst_window_s)))
        ids += [r[1].settlement_id for r in session.execute(near.order_by(FlagRow.settled_at).limit(MAX_LINKED * 4))
                if r[1].counter_id == s.counter_id]
        ids = list(dict.fromkeys(ids))[:MAX_LINKED]
    rows = [FlagView(*r) for r in session.execute(
        _scoped(_base(), principal).where(FlagRow.settlement_id.in_(ids)))]
    best: dict[str, FlagView] = {}
    for v in rows:
        sid = v.settlement.settlement_id
        if sid not in best or (v.flag.kind == view.flag.kind and best[sid].flag.kind != view.flag.kind):
            best[sid] = v
    out = [Linked(sid, best.get(sid)) for sid in ids]
    return sorted(out, key=lambda x: (x.view is None, x.view.settlement.settled_at if x.view else 0))
