"""Moving through the queue from a flag page, and the settlements a flag names.

``query_from``: the queue's filters from a page's query string; with no ``status`` the queue shows
the open flags (待审核), ``status=all`` every status. ``next_open``: where a verdict leads (the next
open flag in the queue's order and filters, else the first open one above). ``neighbours``: the previous and next flag in the queue's own order (same filters, same sort), found by
keyset so it costs two indexed lookups whatever the queue's length. ``linked``: for the kinds that
involve several settlements (card pooling, burst, card conflict, trace-code reuse, duplicates), every
settlement involved with its visible flag, so the page can link them and show their keyframes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api.schemas import FlagQuery
from database.models import FlagRow
from database.queries import FlagFilters, FlagView, _base, _flag_conditions, _scoped
from rxaudit.domain import ReviewStatus
from rxaudit.errors import InputError
from rxaudit.security import Principal

LINKED_KINDS = ("card_pooling", "burst", "card_conflict", "trace_code_reuse", "duplicate_settlement")
MAX_LINKED = 24


ANY_STATUS = "all"  # the queue's status filter value for every status
MULTI = ("district", "pharmacy_id", "kind", "status")


def query_from(items: list[tuple[str, str]]) -> FlagQuery:
    """Filters from an HTML form's query string: empty fields mean 'any'; no status means open."""
    data: dict[str, list[str]] = {}
    for key, value in items:
        if value.strip():
            data.setdefault(key, []).append(value)
    data.pop("done", None)
    statuses = data.pop("status", None)
    if statuses is None:
        statuses = [str(ReviewStatus.OPEN)]
    elif ANY_STATUS in statuses:
        statuses = []
    single = {k: v[0] for k, v in data.items() if k not in MULTI}
    multi = {k: v for k, v in data.items() if k in MULTI}
    try:
        return FlagQuery(**single, **multi, status=statuses)
    except ValidationError as exc:
        raise InputError("bad filter: " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from exc


def next_open(session: Session, principal: Principal, flag: FlagRow, f: FlagFilters, tz: ZoneInfo,
              *, skip: tuple[int, ...] = ()) -> int | None:
    """The open flag after ``flag`` in the queue's order and filters (whatever status the queue
    shows), else the first open one from the top; never ``flag`` itself nor one in ``skip``."""
    key = FlagRow.score if f.sort == "score" else FlagRow.settled_at
    value = flag.score if f.sort == "score" else flag.settled_at
    conds = [*_flag_conditions(principal, replace(f, statuses=(str(ReviewStatus.OPEN),)), tz),
             FlagRow.id.not_in([flag.id, *skip])]
    order = (key.desc(), FlagRow.id.desc())
    if value is not None:
        after = or_(key < value, and_(key == value, FlagRow.id < flag.id))
        found = session.scalars(select(FlagRow.id).where(*conds, after).order_by(*order).limit(1)).first()
        if found is not None:
            return found
    return session.scalars(select(FlagRow.id).where(*conds).order_by(*order).limit(1)).first()


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
