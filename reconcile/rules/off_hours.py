"""Settled outside the pharmacy's business hours (log-only)."""

from __future__ import annotations

from typing import Any

from reconcile.context import AuditContext
from rxaudit.domain import Flag, FlagKind, Settlement


def check(s: Settlement, ctx: AuditContext, seen: dict[str, Any]) -> Flag | None:
    opens, closes, tz = ctx.cameras.business_hours(s.pharmacy_id)
    local = s.settled_at.astimezone(tz)
    now = local.time()
    open_now = opens <= now < closes if opens <= closes else (now >= opens or now < closes)
    if open_now:
        return None
    reason = (
        f"Settled at {local:%H:%M} local time, outside business hours "
        f"{opens:%H:%M}-{closes:%H:%M}"
    )
    return Flag(s.settlement_id, FlagKind.OFF_HOURS, 0.6, reason, (ctx.evidence(s, seen),))
