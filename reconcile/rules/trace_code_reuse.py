"""One drug traceability code (药品追溯码) on more than one settlement line — in this batch or in an
earlier audit stored in the database — or a line with more codes than units sold. A box sold twice
came back or never left. Every settlement involved is flagged and linked to the others.

The batch's codes are read from ``ctx.records.sold_codes`` (the audit's reader keeps them there,
compactly: :class:`rxaudit.records.SoldCodes`), else from the settlements' lines. Codes sold more
than once are found by sorting the codes (numpy), so a month of a city never becomes a set or a
dict of strings; only the few lines involved are looked at as settlements."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from reconcile.context import AuditContext
from rxaudit.domain import Flag, FlagKind, Settlement
from rxaudit.records import CodeSale, SoldCodes


def check(settlements: Sequence[Settlement], ctx: AuditContext) -> list[Flag]:
    sold = ctx.records.sold_codes
    if sold is None:
        sold = SoldCodes.of(settlements)
    if not sold.code_count:
        return []
    earlier = ctx.records.earlier_codes
    reused = sold.repeated()  # code -> positions in ``sold``
    before: dict[str, list[CodeSale]] = {}
    if earlier:
        wanted = set()
        for code, sales in earlier.items():
            if code not in reused and not (here := sold.positions(code)):
                continue
            wanted.update(sale.settlement_id for sale in sales)
            before[code] = list(sales)
            if code not in reused:
                reused[code] = here
        batch = {s.settlement_id for s in settlements if s.settlement_id in wanted}
        before = {code: [e for e in sales if e.settlement_id not in batch] for code, sales in before.items()}
        for code, sales in before.items():  # sold once here and not before (its own earlier audit)
            if not sales and len(reused[code]) < 2:
                del reused[code]
    if not reused and not sold.overfull:
        return []

    # the lines involved, and the settlements that carry them (in the order given)
    line_of = {p: sold.line_of(p) for positions in reused.values() for p in positions}
    involved = {sold.sids[i] for i in line_of.values()} | {o[0] for o in sold.overfull}
    by_id: dict[str, Settlement] = {}
    rank: dict[str, int] = {}
    for n, s in enumerate(settlements):
        if s.settlement_id in involved and s.settlement_id not in by_id:
            by_id[s.settlement_id], rank[s.settlement_id] = s, n

    def place(position: int) -> tuple[int, int]:  # where the batch's walk over its lines meets it
        return rank.get(sold.sids[line_of[position]], len(rank)), position

    findings: dict[str, list[str]] = defaultdict(list)
    for sid, line_no, item_code, codes, quantity in sorted(
            sold.overfull, key=lambda o: (rank.get(o[0], len(rank)), o[1])):
        findings[sid].append(f"line {line_no} ({item_code}) carries {codes} traceability codes for "
                             f"{quantity} unit(s)")
    linked: dict[str, set[str]] = defaultdict(set)
    codes_of: dict[str, set[str]] = defaultdict(set)
    for code, positions in sorted(reused.items(), key=lambda kv: min(place(p) for p in kv[1])):
        here = []
        for p in sorted(positions, key=place):
            line = line_of[p]
            s = by_id.get(sold.sids[line])
            if s is not None:
                here.append((s.settlement_id, s.pharmacy_id, sold.item_codes[line], s.settled_at.isoformat()))
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
        if sid not in by_id:
            continue
        seen = {"reused_codes": sorted(codes_of[sid]), "linked_settlements": sorted(linked[sid])}
        flags.append(Flag(sid, FlagKind.TRACE_CODE_REUSE, 0.9, " | ".join(dict.fromkeys(reasons)),
                          (ctx.evidence(by_id[sid], seen),)))
    return flags
