"""One drug traceability code (药品追溯码) on more than one settlement line — in this batch or in an
earlier audit stored in the database — or a line with more codes than units sold. A box sold twice
came back or never left. Every settlement involved is flagged and linked to the others.

Two passes, so a month of codes costs one list slot each: the first sorts the codes to find those
seen twice (or sold before), the second collects only their lines."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from itertools import islice

from reconcile.context import AuditContext
from rxaudit.domain import Flag, FlagKind, Settlement


def check(settlements: Sequence[Settlement], ctx: AuditContext) -> list[Flag]:
    earlier = ctx.records.earlier_codes
    findings: dict[str, list[str]] = defaultdict(list)
    by_id: dict[str, Settlement] = {}
    sold: list[str] = []  # every code of the batch, sorted below: repeats end up side by side
    for s in settlements:
        for n, item in enumerate(s.items):
            codes = item.trace_codes
            if not codes:
                continue
            sold.extend(codes)
            if len(codes) > item.quantity:
                by_id[s.settlement_id] = s
                findings[s.settlement_id].append(
                    f"line {n + 1} ({item.item_code}) carries {len(codes)} traceability codes for "
                    f"{item.quantity} unit(s)")
    sold.sort()
    reused = {a for a, b in zip(sold, islice(sold, 1, None)) if a == b}
    batch_ids = {s.settlement_id for s in settlements} if earlier else set()
    before = {}
    for code, sales in earlier.items():
        at = bisect_left(sold, code)
        if at < len(sold) and sold[at] == code:
            before[code] = [e for e in sales if e.settlement_id not in batch_ids]
    reused.update(code for code, sales in before.items() if sales)
    del sold
    if not reused and not findings:
        return []

    # code -> (settlement id, pharmacy, item code, settled_at) of every line carrying it
    lines: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
    for s in settlements:
        for item in s.items:
            for code in item.trace_codes:
                if code in reused:
                    by_id[s.settlement_id] = s
                    lines[code].append((s.settlement_id, s.pharmacy_id, item.item_code, s.settled_at.isoformat()))
    linked: dict[str, set[str]] = defaultdict(set)
    codes_of: dict[str, set[str]] = defaultdict(set)
    for code, here in lines.items():
        every = here + [(e.settlement_id, e.pharmacy_id, e.item_code, e.settled_at.isoformat())
                        for e in before.get(code, ())]
        ids = {sid for sid, *_ in every}
        where = "; ".join(f"{sid} at {pharmacy} ({item}, {at})" for sid, pharmacy, item, at in every)
        for sid, *_ in here:
            findings[sid].append(f"traceability code {code} sold {len(every)} times: {where}")
            linked[sid] |= ids - {sid}
            codes_of[sid].add(code)

    flags = []
    for sid, reasons in findings.items():
        seen = {"reused_codes": sorted(codes_of[sid]), "linked_settlements": sorted(linked[sid])}
        flags.append(Flag(sid, FlagKind.TRACE_CODE_REUSE, 0.9, " | ".join(dict.fromkeys(reasons)),
                          (ctx.evidence(by_id[sid], seen),)))
    return flags
