"""What the flag page shows to decide a flag, per kind (:mod:`api.flag_facts`, :mod:`api.partners`),
gathered in one call for ``routes_pages.flag_page``; the labels the template names things with."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api import flag_facts, partners
from api.catalogs import N_
from api.corrections import frame_size
from database.models import CheckRow
from database.queries import FlagView
from rxaudit.security import Principal
from rxaudit.settings import Settings

ENTRY_LABELS = {"count": N_("stock count"), "delivery": N_("delivery"), "sale": N_("sale")}


def facts(session: Session, who: Principal, view: FlagView, check: CheckRow | None,
          settings: Settings) -> dict[str, Any]:
    """Template variables: ``facts`` (per kind) and the label tables."""
    kind = view.flag.kind
    seen = flag_facts.first_seen(view)
    video_seen = (check.seen if check is not None and isinstance(check.seen, dict) else None) or seen
    out: dict[str, Any] = {"zone": flag_facts.zone(video_seen)}
    if kind == "no_customer":
        out["timeline"] = flag_facts.timeline(video_seen, settings.clock_max_offset_s)
        out["offset_s"] = flag_facts.clock_offset_s(video_seen, view.settlement.settled_at)
    elif kind in ("goods_mismatch", "goods_unclear"):
        out["goods"] = flag_facts.goods(view, seen)
    elif kind == "stock_shortfall":
        out["ledger"] = flag_facts.ledger(session, view, seen)
    codes: list[str] = []
    if kind == "trace_code_reuse":
        out["code_lines"] = lines = flag_facts.code_lines(session, view, seen)
        codes = flag_facts.this_codes(lines) or [str(c) for c in seen.get("reused_codes") or []]
    out["partners"] = partners.partners(session, who, view, burst_window_s=settings.burst_window_s,
                                        travel_speed_kmh=settings.travel_speed_kmh, codes=codes)
    out["tech"] = flag_facts.tech_rows(seen)
    out["frame"] = frame_size(settings, view) or (1280, 720)  # the player overlay's drawing size
    return {"facts": out, "object_labels": flag_facts.OBJECT_LABELS,
            "category_labels": flag_facts.CATEGORY_LABELS, "entry_labels": ENTRY_LABELS}
