"""The records side of a sample bundle: purchases, stock counts, traceability codes and pharmacy
coordinates, with their ground truth (``stock_shortfall``, ``trace_code_reuse``, ``card_conflict``).

Works on the planned settlements of :mod:`sample_footage.generator` (after the day is planned, before
the log is written) and changes only what the records rules judge: a card reused for one clean
settlement (a card conflict), the codes on covered lines, and the stock of one item at one
pharmacy (a shortfall). Its random draws come from their own generator, so the footage of a seed is
the same with or without them.
"""

from __future__ import annotations

import csv
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

RECORD_KINDS = ("stock_shortfall", "trace_code_reuse", "card_conflict")
SPEED_KMH = 60.0  # the rule's default travel speed
MIN_GAP_S = 600.0  # the rule's default: never two pharmacies within 10 minutes
CITY = (36.0611, 103.8343)  # Lanzhou
KM_PER_DEG_LAT = 111.2


class PlanConflict(RuntimeError):
    """This day's plan cannot carry the records' ground truth (the generator re-plans the day)."""


@dataclass
class RecordsPlan:
    codes: dict[str, list[list[str]]] = field(default_factory=dict)  # settlement id -> codes per line
    purchases: list[list[str]] = field(default_factory=list)
    stock: list[list[str]] = field(default_factory=list)
    locations: dict[str, tuple[float, float]] = field(default_factory=dict)


def _north(origin: tuple[float, float], km: float) -> tuple[float, float]:
    return (round(origin[0] + km / KM_PER_DEG_LAT, 6), origin[1])


def _east(origin: tuple[float, float], km: float) -> tuple[float, float]:
    return (origin[0], round(origin[1] + km / (KM_PER_DEG_LAT * math.cos(math.radians(origin[0]))), 6))


def _clean(s) -> bool:
    """No flag expected, and no special scenario (e.g. a counter with a wrong clock: any flag but
    its own is a false positive there)."""
    return not s.expect and not getattr(s, "scenario", None)


def plan_card_conflict(rows, pharmacies: list[str], plan: RecordsPlan) -> None:
    """One card of a clean sale at pharmacy b used again at a or c closer in time than the drive
    between them; pharmacy b placed far enough that no other shared card conflicts."""
    a, b, c = pharmacies
    uses = Counter(s.card_id for _, _, s in rows)
    single = [(at, cl, s) for at, cl, s in rows if _clean(s) and uses[s.card_id] == 1]
    pairs = [(abs((x[0] - y[0]).total_seconds()), x, y) for x in single for y in single
             if x[1].pharmacy_id != b and y[1].pharmacy_id == b]
    if not pairs:
        raise PlanConflict("sample plan: no clean sale at pharmacy b to reuse a card for")
    gap, (_, _, first), (_, _, second) = min(pairs, key=lambda p: p[0])
    second.card_id = first.card_id
    first.expect.add("card_conflict")
    second.expect.add("card_conflict")
    far_km = max(30.0, 2.0 * gap / 3600.0 * SPEED_KMH)  # the drive takes twice the gap at least
    plan.locations = {a: CITY, c: _east(CITY, 6.0), b: _north(CITY, far_km)}
    # every other card used at two pharmacies must be far enough apart in time to be no conflict
    by_card = defaultdict(list)
    for at, cl, s in rows:
        by_card[s.card_id].append((at, cl.pharmacy_id, s))
    for card, uses_ in by_card.items():
        for at1, p1, s1 in uses_:
            for at2, p2, s2 in uses_:
                if p1 == p2 or s1 is s2 or {id(s1), id(s2)} == {id(first), id(second)}:
                    continue
                if abs((at2 - at1).total_seconds()) < max(MIN_GAP_S, 2 * far_km / SPEED_KMH * 3600):
                    raise PlanConflict("sample plan: a shared card would conflict by accident")


def plan_trace_codes(rows, rng: random.Random, plan: RecordsPlan) -> None:
    """Codes for every covered unit sold; one code sold twice (two clean sales, different pharmacies
    when possible) and one line with more codes than units."""
    issued: set[str] = set()

    def new_code() -> str:
        while (code := "8" + "".join(rng.choice("0123456789") for _ in range(19))) in issued:
            pass
        issued.add(code)
        return code

    for _, _, s in rows:
        plan.codes[s.settlement_id] = [[new_code() for _ in range(int(line.quantity))]
                                       if line.category == "covered" else [] for line in s.lines]
    with_codes = [(cl, s) for _, cl, s in rows if _clean(s) and any(plan.codes[s.settlement_id])]
    if len(with_codes) < 3:
        raise PlanConflict("sample plan: fewer than three clean sales with trace codes")
    rng.shuffle(with_codes)
    (cl_x, x), *rest = with_codes
    cl_y, y = next(((cl, s) for cl, s in rest if cl.pharmacy_id != cl_x.pharmacy_id), rest[0])
    z = next(s for _, s in rest if s is not y)
    code = next(c for line in plan.codes[x.settlement_id] for c in line)
    y_line = next(line for line in plan.codes[y.settlement_id] if line)
    y_line[0] = code  # the box sold at x is scanned again at y
    next(line for line in plan.codes[z.settlement_id] if line).append(new_code())  # one code too many
    for s in (x, y, z):
        s.expect.add("trace_code_reuse")


def plan_stock(rows, rng: random.Random, plan: RecordsPlan) -> None:
    """A count every morning and a delivery covering the day, except for one item at one pharmacy
    whose stock runs out part way through its sales."""
    sales: dict[tuple[str, str], list[tuple[datetime, int, object]]] = defaultdict(list)
    for at, cl, s in rows:
        for line in s.lines:
            sales[(cl.pharmacy_id, line.item_code)].append((at, int(line.quantity), s))
    day = min(at for at, _, _ in rows).replace(hour=7, minute=0, second=0, microsecond=0)
    short_keys = sorted(k for k, v in sales.items()
                        if len(v) >= 2 and not any(getattr(s, "scenario", None) for _, _, s in v))
    short = rng.choice(short_keys) if short_keys else None
    invoice = rng.randint(10000, 90000)
    for key in sorted(sales):
        pharmacy, item = key
        events = sorted(sales[key], key=lambda e: e[0])
        total = sum(q for _, q, _ in events)
        if key == short:
            k = rng.randint(1, len(events) - 1)  # the (k+1)-th sale is the first with nothing left
            available = sum(q for _, q, _ in events[:k]) + rng.randint(0, events[k][1] - 1)
            for _, _, s in events[k:]:
                s.expect.add("stock_shortfall")
        else:
            available = total + rng.randint(0, 4)
        count = rng.randint(0, available)
        plan.stock.append([pharmacy, item, str(rng.randint(0, 3)), (day - timedelta(days=1)).isoformat()])
        plan.stock.append([pharmacy, item, str(count), day.isoformat()])
        if available > count:
            invoice += 1
            plan.purchases.append([pharmacy, item, str(available - count),
                                   (day + timedelta(minutes=30)).isoformat(), "国药控股甘肃有限公司",
                                   f"FP{invoice}"])


def plan_records(rows, pharmacies: list[str], seed: int) -> RecordsPlan:
    """``rows``: (settled_at, cluster, planned settlement), in time order; changes cards, adds
    expected kinds."""
    rng = random.Random(f"records-{seed}")
    plan = RecordsPlan()
    plan_card_conflict(rows, pharmacies, plan)
    plan_trace_codes(rows, rng, plan)
    plan_stock(rows, rng, plan)
    return plan


def _rewrite(path: Path, extra: list[str], values) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    table[0] += extra
    for row in table[1:]:
        row += values(row)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(table)


def write_records(out: Path, plan: RecordsPlan) -> None:
    """purchases.csv, stock.csv; trace codes into settlement_items.csv; lat,lon into pharmacies.csv."""
    with (out / "purchases.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["pharmacy_id", "item_code", "quantity", "received_at", "supplier",
                                   "invoice_no"], *plan.purchases])
    with (out / "stock.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["pharmacy_id", "item_code", "quantity", "counted_at"], *plan.stock])
    position: Counter = Counter()

    def codes(row: list[str]) -> list[str]:
        sid = row[0]
        n = position[sid]
        position[sid] += 1
        return [";".join(plan.codes.get(sid, [])[n] if n < len(plan.codes.get(sid, [])) else [])]

    _rewrite(out / "settlement_items.csv", ["trace_codes"], codes)
    _rewrite(out / "pharmacies.csv", ["lat", "lon"],
             lambda row: [str(v) for v in plan.locations.get(row[0], ("", ""))])
