"""One drug traceability code (药品追溯码) on more than one settlement line — in this batch or in an
earlier audit stored in the database — or a line with more codes than units sold. A box sold twice
came back or never left. Every settlement involved is flagged and linked to the others.

The batch's codes are read from ``ctx.records.sold_codes`` (the audit's reader keeps them there,
compactly: :class:`rxaudit.records.SoldCodes`), else from the settlements' lines. Codes sold more
than once are found by sorting the codes (numpy), so a month of a city never becomes a set or a
dict of strings; only the few lines involved are looked at as settlements.

A flag holds a bounded finding (``rxaudit.bounds``), never a sentence per code: the evidence lists the
first ``EVIDENCE_LIST_MAX`` codes and partner settlements with ``codes_total`` and ``partners_total``,
and the reason names the first few of each with how many more. Each set of settlements that sold a
code is met once, however many codes it shares (40 settlements x 6,000 codes: 40 flags of ~1 KB)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from reconcile.context import AuditContext
from rxaudit.bounds import EVIDENCE_LIST_MAX, REASON_ITEMS, REASON_MAX, clip_text, listing
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
    line_of = _lines_of(sold, reused.values())
    involved = {sold.sids[i] for i in set(line_of.values())} | {o[0] for o in sold.overfull}
    by_id: dict[str, Settlement] = {}
    rank: dict[str, int] = {}
    for n, s in enumerate(settlements):
        if s.settlement_id in involved and s.settlement_id not in by_id:
            by_id[s.settlement_id], rank[s.settlement_id] = s, n

    def place(position: int) -> tuple[int, int]:  # where the batch's walk over its lines meets it
        return rank.get(sold.sids[line_of[position]], len(rank)), position

    found: dict[str, _Finding] = defaultdict(_Finding)
    for sid, line_no, item_code, codes, quantity in sorted(
            sold.overfull, key=lambda o: (rank.get(o[0], len(rank)), o[1])):
        found[sid].overfull(f"line {line_no} ({item_code}) carries {codes} traceability codes for "
                            f"{quantity} unit(s)")
    sales = _Sales()
    groups: dict[tuple[_Sale, ...], list[str]] = {}  # the sales of a code -> the batch's sellers of them
    walks = {code: sorted(positions, key=place) for code, positions in reused.items()}
    for code, walk in sorted(walks.items(), key=lambda kv: place(kv[1][0])):
        here = []
        for p in walk:
            line = line_of[p]
            s = by_id.get(sold.sids[line])
            if s is not None:
                here.append(sales.of(s.settlement_id, s.pharmacy_id, sold.item_codes[line], s.settled_at))
        every = (*here, *(sales.of(e.settlement_id, e.pharmacy_id, e.item_code, e.settled_at)
                          for e in before.get(code, ())))
        sellers = list(dict.fromkeys(sale.settlement_id for sale in here))
        for sid in sellers:
            found[sid].code(code, len(every))
        groups.setdefault(every, sellers)
    for every, sellers in groups.items():  # each set of sales once, however many codes it shares
        for sid in sellers:
            found[sid].meet(sale for sale in every if sale.settlement_id != sid)

    return [Flag(sid, FlagKind.TRACE_CODE_REUSE, 0.9, finding.reason(),
                 (ctx.evidence(by_id[sid], finding.seen()),))
            for sid, finding in found.items() if sid in by_id]


def _lines_of(sold: SoldCodes, positions: Iterable[list[int]]) -> dict[int, int]:
    """position -> the line (index into ``sold.sids``) that carries it, for every position given."""
    flat = np.fromiter((p for group in positions for p in group), dtype=np.uint64)
    lines = np.searchsorted(np.frombuffer(sold.ends, dtype=np.uint64), flat, side="right")
    return dict(zip(flat.tolist(), lines.tolist()))


@dataclass(frozen=True, slots=True, eq=False)  # one object per sale (``_Sales``): compared by identity
class _Sale:
    settlement_id: str
    pharmacy_id: str
    item_code: str
    settled_at: str

    def __str__(self) -> str:
        return f"{self.settlement_id} at {self.pharmacy_id} ({self.item_code}, {self.settled_at})"


class _Sales:
    """One :class:`_Sale` per settlement, pharmacy, item and time, so that equal sales are one object."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str, datetime], _Sale] = {}

    def of(self, settlement_id: str, pharmacy_id: str, item_code: str, settled_at: datetime) -> _Sale:
        key = (settlement_id, pharmacy_id, item_code, settled_at)
        if (sale := self._known.get(key)) is None:
            sale = self._known[key] = _Sale(settlement_id, pharmacy_id, item_code, settled_at.isoformat())
        return sale


@dataclass
class _Finding:
    """What one settlement's flag says, bounded: totals, and the first few codes, partners and lines."""

    codes_total: int = 0
    codes: list[tuple[str, int]] = field(default_factory=list)  # (code, times sold): the first few
    partners: dict[str, _Sale] = field(default_factory=dict)  # every other seller, its first sale
    overfull_total: int = 0
    overfull_lines: list[str] = field(default_factory=list)

    def overfull(self, sentence: str) -> None:
        self.overfull_total += 1
        if len(self.overfull_lines) < REASON_ITEMS:
            self.overfull_lines.append(sentence)

    def code(self, code: str, times: int) -> None:
        self.codes_total += 1
        if len(self.codes) < EVIDENCE_LIST_MAX:
            self.codes.append((code, times))

    def meet(self, sales: Iterable[_Sale]) -> None:
        for sale in sales:
            self.partners.setdefault(sale.settlement_id, sale)

    def seen(self) -> dict[str, Any]:
        return {"reused_codes": sorted(code for code, _ in self.codes), "codes_total": self.codes_total,
                "linked_settlements": sorted(self.partners)[:EVIDENCE_LIST_MAX],
                "partners_total": len(self.partners)}

    def reason(self) -> str:
        parts = []
        if self.overfull_lines:
            parts.append(listing(self.overfull_lines, self.overfull_total, sep="; "))
        if self.codes_total:
            text = listing((f"traceability code {code} sold {times} times" for code, times in self.codes),
                           self.codes_total)
            if self.partners:
                where = listing(map(str, self.partners.values()), len(self.partners), sep="; ")
                text += f"; sold by {len(self.partners):,} other settlement(s): {where}"
            parts.append(text)
        return clip_text(" | ".join(parts), REASON_MAX)
