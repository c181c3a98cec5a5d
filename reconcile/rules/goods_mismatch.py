"""串换: goods leave the counter that the bill does not list.

(a) Non-covered goods (snacks, drinks, cosmetics, daily goods) are seen on the counter around the
    swipe, more of them than the bill has ``other`` (or uncatalogued) lines for: covered drugs were
    billed for them. Only *decisive* readings accuse (``reconcile.goods``: sure, held across the
    frames, no rival drug reading of the same object). (b) Clearly more goods are seen than were
    billed at all (``goods_excess_margin``).
Only goods that came with the customer count: not those on display or lying there before.

Where goods might be non-covered beyond the bill but the evidence is not decisive (the detector
reads the object as a drug too, is not sure, or not in enough frames), the rule abstains: a
``goods_unclear`` flag puts the sale before a reviewer, and accuses no one.
"""

from __future__ import annotations

from typing import Any

from reconcile.context import AuditContext
from reconcile.goods import billed_lines, billed_quantities
from rxaudit.domain import Flag, FlagKind, Settlement

UNCLEAR_SCORE = 0.3  # a goods_unclear flag ranks below every accusation


def check(s: Settlement, ctx: AuditContext, seen: dict[str, Any]) -> Flag | None:
    goods = seen.get("goods")
    if not goods or not s.items or not seen.get("visit"):
        # no detector evidence, nothing billed to compare with, or no customer to hand goods to
        # (an empty counter at the swipe is no_customer's finding)
        return None
    counts = goods["counts"]
    billed = billed_quantities(s)
    non_covered, drugs = counts.get("non_covered", 0), counts.get("drug", 0)
    # a summary without the decisive count (stored before it existed) accuses on nothing
    decisive = (goods.get("decisive") or {}).get("non_covered", 0)
    possible = max(goods.get("possible_non_covered", 0), non_covered)
    may_be_other = billed["other"] + billed["unknown"]
    total_billed = sum(billed.values())
    window = ctx.config.goods_window_s
    reasons, score = [], 0.0
    if decisive > may_be_other:
        reasons.append(f"{decisive} non-covered item(s) (food, drink, cosmetics or daily goods) seen on "
                       f"the counter within {window:g} s of the swipe, but the bill has "
                       f"{may_be_other:g} non-drug line(s)")
        score = 0.85
    if drugs + non_covered >= total_billed + ctx.config.goods_excess_margin:
        reasons.append(f"{drugs + non_covered} goods seen on the counter for {total_billed:g} billed")
        score = max(score, 0.7)
    evidence_seen = {**seen, "billed": billed}
    if reasons:
        reason = "; ".join(reasons) + f". Billed: {billed_lines(s)}"
        return Flag(s.settlement_id, FlagKind.GOODS_MISMATCH, score, reason, (ctx.evidence(s, evidence_seen),))
    if possible > may_be_other:
        reason = (f"{possible} item(s) on the counter within {window:g} s of the swipe may be non-covered "
                  f"goods, beyond the bill's {may_be_other:g} non-drug line(s), but the detector is not "
                  f"decisive ({decisive} decisive reading(s): too unsure, too few frames, or read as a "
                  f"drug too): for review, not an accusation. Billed: {billed_lines(s)}")
        return Flag(s.settlement_id, FlagKind.GOODS_UNCLEAR, UNCLEAR_SCORE, reason,
                    (ctx.evidence(s, evidence_seen),))
    return None
