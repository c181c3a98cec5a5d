"""The same card charged the same amount at one pharmacy seconds apart (log-only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from reconcile.context import AuditContext
from rxaudit.domain import Flag, FlagKind, Settlement


def check(settlements: Sequence[Settlement], ctx: AuditContext) -> list[Flag]:
    window = ctx.config.duplicate_window_s
    # by card first (far fewer groups than pharmacy x card x amount: a million settlements make
    # ~200 MB of small lists otherwise), then pharmacy, amount and time order within a card
    by_card: dict[str, list[Settlement]] = defaultdict(list)
    for s in settlements:
        by_card[s.card_hash].append(s)
    flags = []
    for group in by_card.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda s: (s.pharmacy_id, s.amount, s.settled_at))  # stable: file order on ties
        for earlier, later in zip(group, group[1:]):
            if earlier.pharmacy_id != later.pharmacy_id or earlier.amount != later.amount:
                continue
            gap = (later.settled_at - earlier.settled_at).total_seconds()
            if gap <= window:
                reason = (f"Same card and amount ({later.amount}) as settlement "
                          f"{earlier.settlement_id}, {gap:.0f} s earlier")
                seen = {"duplicate_of": earlier.settlement_id, "gap_s": gap}
                flags.append(Flag(later.settlement_id, FlagKind.DUPLICATE_SETTLEMENT, 0.8, reason,
                                  (ctx.evidence(later, seen),)))
    return flags
