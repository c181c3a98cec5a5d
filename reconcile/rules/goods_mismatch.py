"""串换: goods leave the counter that the bill does not list.

(a) Non-covered goods (snacks, drinks, cosmetics, daily goods) are seen on the counter around the
    swipe, more of them than the bill has ``other`` (or uncatalogued) lines for: covered drugs were
    billed for them. (b) Clearly more goods are seen than were billed at all (``goods_excess_margin``).
Counts come from ``reconcile.goods`` (held in several frames, above ``goods_min_score``).
"""

from __future__ import annotations

from typing import Any

from reconcile.context import AuditContext
from reconcile.goods import billed_lines, billed_quantities
from rxaudit.domain import Flag, FlagKind, Settlement


def check(s: Settlement, ctx: AuditContext, seen: dict[str, Any]) -> Flag | None:
    goods = seen.get("goods")
    if not goods or not s.items:
        return None  # no detector evidence, or nothing billed to compare with
    counts = goods["counts"]
    billed = billed_quantities(s)
    non_covered, drugs = counts.get("non_covered", 0), counts.get("drug", 0)
    may_be_other = billed["other"] + billed["unknown"]
    total_billed = sum(billed.values())
    window = ctx.config.goods_window_s
    reasons, score = [], 0.0
    if non_covered > may_be_other:
        reasons.append(f"{non_covered} non-covered item(s) (food, drink, cosmetics or daily goods) seen on "
                       f"the counter within {window:g} s of the swipe, but the bill has "
                       f"{may_be_other:g} non-drug line(s)")
        score = 0.85
    if drugs + non_covered >= total_billed + ctx.config.goods_excess_margin:
        reasons.append(f"{drugs + non_covered} goods seen on the counter for {total_billed:g} billed")
        score = max(score, 0.7)
    if not reasons:
        return None
    reason = "; ".join(reasons) + f". Billed: {billed_lines(s)}"
    evidence_seen = {**seen, "billed": billed}
    return Flag(s.settlement_id, FlagKind.GOODS_MISMATCH, score, reason, (ctx.evidence(s, evidence_seen),))
