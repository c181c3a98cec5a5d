"""A plain summary of what the camera saw around one settlement, stored with every check."""

from __future__ import annotations

from typing import Any

from reconcile.context import AuditContext
from rxaudit.domain import Settlement
from vision.zone import wrists_in_zone


def seen_around(s: Settlement, ctx: AuditContext) -> dict[str, Any]:
    t = ctx.camera_time(s)
    near = ctx.observations_near(s)
    visit = ctx.visit_at(s)
    zone = ctx.cameras.counter(s.pharmacy_id, s.counter_id).zone
    wrists = sum(
        wrists_in_zone(o.persons[i], zone, o.frame_size) for o in near for i in o.customers
    )
    seen: dict[str, Any] = {
        "camera_time": t.isoformat(),
        "frames_checked": len(near),
        "max_persons": max((len(o.persons) for o in near), default=0),
        "max_customers": max((len(o.customers) for o in near), default=0),
        "customer_wrists_in_zone": wrists,
        "faces": sum(len(o.faces) for o in near),
    }
    if visit is not None:
        seen["visit"] = {
            "track_id": visit.track_id,
            "start": visit.start.isoformat(),
            "end": visit.end.isoformat(),
            "faces": visit.face_count,
            "identity": visit.identity is not None,
        }
    return seen
