"""The swipe fell inside a tamper span the recorder wrote down for its counter: the stream was up but the
picture was black, uniform (lens covered), frozen or turned away from the counter. A covered camera
during swipes is a finding, not a missing clip: the settlement is flagged, and the footage of that span
judges nothing else (no_customer, goods, card pooling read no picture there)."""

from __future__ import annotations

from typing import Any

from reconcile.context import AuditContext
from rxaudit.domain import Flag, FlagKind, Settlement

SCORE = 0.9
WHAT = {"black": "black picture", "uniform": "uniform picture (lens covered?)", "frozen": "frozen picture",
        "turned": "camera turned away from the counter"}  # recorder.tamper.Tamper, in words


def check(s: Settlement, ctx: AuditContext, seen: dict[str, Any]) -> Flag | None:
    t = ctx.camera_time(s)
    spans = ctx.camera_log.tamper_at(s.counter_key, t, ctx.clock_tolerance(s))
    if not spans:
        return None
    words = "; ".join(f"{WHAT.get(span.reason, span.reason)} {span.describe(t.tzinfo)}" for span in spans)
    reason = (f"Camera tampered at the swipe ({t:%H:%M:%S} camera time) while the stream was up: {words} "
              f"(counter {s.pharmacy_id}/{s.counter_id})")
    seen = {**seen, "camera_tamper": [span.to_json(t.tzinfo) for span in spans]}
    return Flag(s.settlement_id, FlagKind.CAMERA_TAMPER, SCORE, reason, (ctx.evidence(s, seen),))
