"""One card at two places at once (卡证冲突, a sign of a card ring): settled at two pharmacies closer
in time than travel between them allows (distance from their coordinates at ``travel_speed_kmh``,
and never less than ``card_conflict_min_gap_s`` apart even without coordinates), or at two counters
of one pharmacy within ``card_conflict_counter_gap_s``. Both settlements are flagged and linked; a
settlement stored by an earlier audit (``records.earlier_cards``) counts too and is flagged when the
results are saved (``database.records.flag_earlier_conflicts``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from reconcile.context import AuditContext, RuleConfig
from rxaudit.domain import Flag, FlagKind, Settlement
from rxaudit.records import CardSale, Location


def _conflict(a: Settlement | CardSale, b: Settlement | CardSale, gap_s: float,
              ctx: AuditContext) -> dict | None:
    cfg = ctx.config
    if a.pharmacy_id == b.pharmacy_id:
        if a.counter_id != b.counter_id and gap_s < cfg.card_conflict_counter_gap_s:
            return {"limit_s": cfg.card_conflict_counter_gap_s, "why": "two counters"}
        return None
    need, km = cfg.card_conflict_min_gap_s, None
    here, there = ctx.records.locations.get(a.pharmacy_id), ctx.records.locations.get(b.pharmacy_id)
    if here is not None and there is not None:
        km = here.km_to(there)
        need = max(need, km / cfg.travel_speed_kmh * 3600.0)
    if gap_s < need:
        return {"limit_s": round(need, 1), "why": "two pharmacies",
                "distance_km": None if km is None else round(km, 2)}
    return None


def horizon(cfg: RuleConfig, locations: Mapping[str, Location]) -> float:
    """No pair further apart than this can conflict."""
    points = list(locations.values())
    widest = 0.0
    if len(points) > 1:  # the farthest any two pharmacies lie apart, bounded by a bounding box
        lats, lons = [p.lat for p in points], [p.lon for p in points]
        widest = 111.2 * ((max(lats) - min(lats)) ** 2 + (max(lons) - min(lons)) ** 2) ** 0.5
    return max(cfg.card_conflict_min_gap_s, cfg.card_conflict_counter_gap_s,
               widest / cfg.travel_speed_kmh * 3600.0)


def check(settlements: Sequence[Settlement], ctx: AuditContext) -> list[Flag]:
    by_card: dict[str, list[Settlement | CardSale]] = defaultdict(list)
    for s in settlements:
        by_card[s.card_hash].append(s)
    for card, sales in ctx.records.earlier_cards.items():  # stored by earlier audits
        if card in by_card:
            by_card[card].extend(sales)
    limit = horizon(ctx.config, ctx.records.locations)
    found: dict[str, list[tuple[Settlement, dict]]] = defaultdict(list)
    by_id: dict[str, Settlement] = {}  # the flagged ones only (a batch may hold a million)
    for group in by_card.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda s: s.settled_at)
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                gap = (b.settled_at - a.settled_at).total_seconds()
                if gap > limit:
                    break
                if isinstance(a, CardSale) and isinstance(b, CardSale):
                    continue  # two earlier ones: their own audits judged them
                if (what := _conflict(a, b, gap, ctx)) is not None:
                    for one, other in ((a, b), (b, a)):
                        if isinstance(one, Settlement):  # an earlier one is flagged when saved
                            found[one.settlement_id].append((other, {**what, "gap_s": round(gap, 1)}))
                            by_id[one.settlement_id] = one
    flags = []
    for sid, others in found.items():
        s = by_id[sid]
        parts, links = [], []
        for other, what in others:
            where = (f"counter {other.counter_id}" if other.pharmacy_id == s.pharmacy_id
                     else f"pharmacy {other.pharmacy_id}")
            extra = "" if what.get("distance_km") is None else f", {what['distance_km']} km away"
            if isinstance(other, CardSale):
                extra += ", stored by an earlier audit"
            parts.append(f"same card settled {other.settlement_id} at {where} {what['gap_s']:.0f} s "
                         f"apart{extra} (at least {what['limit_s']:.0f} s needed)")
            links.append({"settlement_id": other.settlement_id, "pharmacy_id": other.pharmacy_id,
                          "counter_id": other.counter_id, **what,
                          **({"earlier_audit": True} if isinstance(other, CardSale) else {})})
        seen = {"linked_settlements": sorted(o.settlement_id for o, _ in others), "conflicts": links}
        flags.append(Flag(sid, FlagKind.CARD_CONFLICT, 0.85, "; ".join(parts),
                          (ctx.evidence(s, seen),)))
    return flags
