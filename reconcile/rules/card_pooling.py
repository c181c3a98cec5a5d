"""敛卡 / 一人多卡: many people's cards settled by one person.

(a) ``same_visit``: N or more distinct cards while one customer stays at the counter (one track;
    works with faces invisible). (b) ``same_face``: one face identity at settlements of N or more
    distinct cards within the period, at one pharmacy or across pharmacies. Identity is decided
    per visit (several frames), with a distance threshold calibrated on CCTV-sized faces.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from reconcile.context import AuditContext, IdentityRecord
from rxaudit.domain import Flag, FlagKind, Settlement


def same_visit(settlements: Sequence[Settlement], ctx: AuditContext,
               verified: set[str]) -> list[Flag]:
    need = ctx.config.pooling_min_cards
    groups: dict[tuple, list[Settlement]] = defaultdict(list)
    for s in settlements:
        if s.settlement_id not in verified:
            continue
        visit = ctx.visit_at(s)
        if visit is not None:
            groups[(s.pharmacy_id, s.counter_id, visit.track_id, visit.start)].append(s)
    flags = []
    for (_, _, track, start), group in groups.items():
        cards = {s.card_hash for s in group}
        if len(cards) < need:
            continue
        ids = [s.settlement_id for s in group]
        for s in group:
            reason = (f"{len(cards)} distinct cards settled while one customer (track {track}) "
                      f"stayed at the counter from {start:%H:%M:%S}; settlements {', '.join(ids)}")
            seen = {"settlements": ids, "distinct_cards": len(cards), "track_id": track}
            score = min(1.0, 0.6 + 0.1 * len(cards))
            shown = max(cards_seen(ctx.seen(x)) for x in group)
            if shown >= 2:  # the camera saw several cards handed over at once
                reason += f"; {shown} cards seen together on the counter"
                seen["cards_seen_together"] = shown
                score = min(1.0, score + 0.05)
            flags.append(Flag(s.settlement_id, FlagKind.CARD_POOLING, score, reason,
                              (ctx.evidence(s, seen),)))
    return flags


def cards_seen(seen: dict) -> int:
    """Cards the counter detector held in view around a swipe (0 without the detector)."""
    return int(seen.get("goods", {}).get("counts", {}).get("card", 0))


def identities(settlements: Sequence[Settlement], ctx: AuditContext,
               verified: set[str]) -> list[IdentityRecord]:
    out = []
    for s in settlements:
        if s.settlement_id not in verified:
            continue
        visit = ctx.visit_at(s)
        if visit is not None and visit.identity is not None:
            out.append(IdentityRecord(s.settlement_id, s.pharmacy_id, s.card_hash, s.settled_at,
                                      visit.identity))
    return out


def _cards_in_one_period(record: IdentityRecord, near: list[IdentityRecord], period_s: float) -> set[str]:
    """The most distinct cards among matches that fit, with ``record``, inside one period."""
    best: set[str] = set()
    for anchor in near:  # an optimal window starts at some match's time
        offset = (record.settled_at - anchor.settled_at).total_seconds()
        if not 0 <= offset <= period_s:
            continue
        cards = {r.card_hash for r in near
                 if 0 <= (r.settled_at - anchor.settled_at).total_seconds() <= period_s}
        if len(cards) > len(best):
            best = cards
    return best


def same_face(settlements: Sequence[Settlement], ctx: AuditContext,
              verified: set[str]) -> list[Flag]:
    need = ctx.config.pooling_min_cards
    period = ctx.config.pooling_period_days * 86400.0
    current = identities(settlements, ctx, verified)
    if not current:
        return []
    current_ids = {r.settlement_id for r in current}
    pool = current + [r for r in ctx.history if r.settlement_id not in current_ids]
    matrix = np.stack([r.identity for r in pool])
    by_id = {s.settlement_id: s for s in settlements}
    flags = []
    for record in current:
        dist = np.linalg.norm(matrix - record.identity, axis=1)
        matches = np.flatnonzero(dist <= ctx.config.face_distance_threshold)
        near = [pool[k] for k in matches]
        cards = _cards_in_one_period(record, near, period)
        if len(cards) < need:
            continue
        distance = {pool[k].settlement_id: float(dist[k]) for k in matches}
        others = sorted((r for r in near if r.settlement_id != record.settlement_id
                         and abs((r.settled_at - record.settled_at).total_seconds()) <= period),
                        key=lambda r: r.settled_at)
        pharmacies = sorted({record.pharmacy_id, *(r.pharmacy_id for r in others)})
        reason = (f"The same face was seen at settlements of {len(cards)} distinct cards within "
                  f"{ctx.config.pooling_period_days} days at {', '.join(pharmacies)}: "
                  f"{', '.join(r.settlement_id for r in others)}")
        seen = {
            "same_face_settlements": [r.settlement_id for r in others],
            "distances": [round(distance[r.settlement_id], 3) for r in others],
            "threshold": ctx.config.face_distance_threshold,
            "distinct_cards": len(cards),
        }
        s = by_id[record.settlement_id]
        score = min(1.0, 0.55 + 0.1 * len(cards))
        flags.append(Flag(s.settlement_id, FlagKind.CARD_POOLING, score, reason,
                          (ctx.evidence(s, seen),)))
    return flags
