"""Many distinct cards at one counter within minutes (log-only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from reconcile.context import AuditContext
from rxaudit.domain import Flag, FlagKind, Settlement


def check(settlements: Sequence[Settlement], ctx: AuditContext) -> list[Flag]:
    window = ctx.config.burst_window_s
    need = ctx.config.burst_min_cards
    by_counter: dict[tuple[str, str], list[Settlement]] = defaultdict(list)
    for s in settlements:
        by_counter[s.counter_key].append(s)
    members: dict[str, int] = {}
    for group in by_counter.values():
        group.sort(key=lambda s: s.settled_at)
        j = 0
        for i in range(len(group)):
            while (group[i].settled_at - group[j].settled_at).total_seconds() > window:
                j += 1
            run = group[j : i + 1]
            cards = len({s.card_hash for s in run})
            if cards >= need:
                for s in run:
                    members[s.settlement_id] = max(members.get(s.settlement_id, 0), cards)
    flags = []
    for s in settlements:
        cards = members.get(s.settlement_id)
        if cards:
            reason = (f"{cards} distinct cards settled at counter {s.pharmacy_id}/{s.counter_id} "
                      f"within {window / 60:g} min (threshold {need})")
            score = min(1.0, 0.5 + 0.05 * cards)
            flags.append(Flag(s.settlement_id, FlagKind.BURST, score, reason,
                              (ctx.evidence(s, {"distinct_cards": cards}),)))
    return flags
