"""The same card charged the same amount at one pharmacy seconds apart (log-only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from reconcile.context import AuditContext
from rxaudit.domain import Flag, FlagKind, Settlement


def check(settlements: Sequence[Settlement], ctx: AuditContext) -> list[Flag]:
    window = ctx.config.duplicate_window_s
    groups: dict[tuple, list[Settlement]] = defaultdict(list)
    for s in settlements:
        groups[(s.pharmacy_id, s.card_hash, s.amount)].append(s)
    flags = []
    for group in groups.values():
        group.sort(key=lambda s: s.settled_at)
        for earlier, later in zip(group, group[1:]):
            gap = (later.settled_at - earlier.settled_at).total_seconds()
            if gap <= window:
                reason = (f"Same card and amount ({later.amount}) as settlement "
                          f"{earlier.settlement_id}, {gap:.0f} s earlier")
                seen = {"duplicate_of": earlier.settlement_id, "gap_s": gap}
                flags.append(Flag(later.settlement_id, FlagKind.DUPLICATE_SETTLEMENT, 0.8, reason,
                                  (ctx.evidence(later, seen),)))
    return flags
