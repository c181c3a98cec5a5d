"""Clusters: flags of one kind that one decision settles together, as the rules record them. A burst
(the burst flags at one counter within the burst window), a same-visit card pooling (the settlements
of one customer's visit, ``seen.settlements``), a duplicate chain (flags linked by ``seen.duplicate_of``
on one card at one pharmacy). Only flags the principal may see are members."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from database.models import FlagRow, SettlementRow
from database.queries import FlagView, _base, _scoped
from rxaudit.security import Principal

CLUSTER_KINDS = ("burst", "card_pooling", "duplicate_settlement")
MAX_MEMBERS = 200  # a cluster is a handful; a bound on what one page or one verdict can reach


def _seen(flag: FlagRow) -> dict[str, Any]:
    items = (flag.evidence or {}).get("items") or []
    return dict(items[0].get("seen") or {}) if items and isinstance(items[0], dict) else {}


def siblings(session: Session, principal: Principal, view: FlagView, *, burst_window_s: float) -> list[FlagView]:
    """The other visible flags of ``view``'s cluster (same kind), in settlement time order; [] when
    its kind forms none or it stands alone."""
    flag, s = view.flag, view.settlement
    base = _scoped(_base(), principal).where(FlagRow.kind == flag.kind, FlagRow.id != flag.id)
    if flag.kind == "burst":
        q = base.where(FlagRow.pharmacy_id == s.pharmacy_id, SettlementRow.counter_id == s.counter_id,
                       FlagRow.settled_at.between(s.settled_at - timedelta(seconds=burst_window_s),
                                                  s.settled_at + timedelta(seconds=burst_window_s)))
    elif flag.kind == "card_pooling":
        ids = [str(x) for x in _seen(flag).get("settlements") or []]  # same visit only, not same face
        if len(ids) < 2:
            return []
        q = base.where(FlagRow.settlement_id.in_(ids[:MAX_MEMBERS]))
    elif flag.kind == "duplicate_settlement":
        return _duplicate_chain(session, base, view)
    else:
        return []
    rows = [FlagView(*r) for r in session.execute(q.order_by(FlagRow.settled_at, FlagRow.id).limit(MAX_MEMBERS))]
    return rows


def _duplicate_chain(session: Session, base, view: FlagView) -> list[FlagView]:
    s = view.settlement
    candidates = [FlagView(*r) for r in session.execute(
        base.where(SettlementRow.card_hash == s.card_hash, FlagRow.pharmacy_id == s.pharmacy_id)
        .order_by(FlagRow.settled_at, FlagRow.id).limit(MAX_MEMBERS))]
    links: dict[str, set[str]] = {}
    for v in [view, *candidates]:
        other = _seen(v.flag).get("duplicate_of")
        if other:
            me = v.settlement.settlement_id
            links.setdefault(me, set()).add(str(other))
            links.setdefault(str(other), set()).add(me)
    reached, todo = {s.settlement_id}, [s.settlement_id]
    while todo:
        for n in links.get(todo.pop(), ()):
            if n not in reached:
                reached.add(n)
                todo.append(n)
    return [v for v in candidates if v.settlement.settlement_id in reached]
