"""空刷: a card is swiped while nobody stands in the counter's customer zone.

Presence is judged at the swipe instant: the frames around it are decoded densely, so the only
slack is the camera's clock uncertainty (``seen["presence_tolerance_s"]``: cameras.yaml
``clock_uncertainty_s`` per counter, else the setting ``presence_tolerance_s``)."""

from __future__ import annotations

from typing import Any

from reconcile.context import AuditContext
from rxaudit.domain import Flag, FlagKind, Settlement


def check(s: Settlement, ctx: AuditContext, seen: dict[str, Any]) -> Flag | None:
    if ctx.visit_at(s) is not None:
        return None
    others = seen.get("max_persons", 0)
    tol = seen.get("presence_tolerance_s", ctx.config.presence_tolerance_s)
    reason = (
        f"No customer at the counter within {tol:g} s of the swipe "
        f"({seen.get('frames_checked', 0)} frames checked around {ctx.camera_time(s):%H:%M:%S} camera time)"
    )
    if others:
        reason += f"; {others} person(s) seen only outside the customer zone (staff side)"
    # stronger when nobody at all was seen than when staff stood at the till
    score = 0.95 if not others else 0.85
    staff_cards = seen.get("goods", {}).get("payment_staff_side", 0)
    if staff_cards:  # the card is in the cashier's hands: the shop swiped it
        reason += f"; {staff_cards} card(s)/phone(s) seen on the staff side of the counter at the swipe"
        score = min(1.0, score + 0.04)
    # Clock health: on a counter whose camera clock is suspect, reconcile/clock_health.py (phase 2,
    # over the whole batch) appends the suspicion to this reason and lowers this score.
    return Flag(s.settlement_id, FlagKind.NO_CUSTOMER, score, reason, (ctx.evidence(s, seen),))
