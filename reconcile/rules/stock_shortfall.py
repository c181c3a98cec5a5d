"""More of a drug sold than the pharmacy had (进销存): per pharmacy and item, units sold since the
last stock count exceed that count plus units received since. Every settlement that leaves the
balance below zero is flagged, from the one that first pushes it there, with the ledger as evidence.

Sales of an item with no stock count before them have no opening balance and are not judged. At
one instant a count comes first, then deliveries, then sales. The sales are walked once in time
order, each item's counts and deliveries merged in as time passes (no per-line event list: a month
of a city is millions of lines)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from operator import attrgetter

from reconcile.context import AuditContext
from rxaudit.domain import Flag, FlagKind, Settlement

ZERO = Decimal(0)


def _num(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


class Ledger:
    """One pharmacy's stock of one item: its counts and deliveries in time order, and the balance."""

    __slots__ = ("counts", "receipts", "ci", "ri", "balance", "count", "received", "sold", "counted_at",
                 "next_at")

    def __init__(self, counts: list[tuple[datetime, Decimal]], receipts: list[tuple[datetime, Decimal]]):
        self.counts, self.receipts = sorted(counts), sorted(receipts)
        self.ci = self.ri = 0
        self.balance: Decimal | None = None
        self.count = self.received = self.sold = ZERO
        self.counted_at: datetime | None = None
        self.next_at = self._next()

    def _next(self) -> datetime | None:
        """When the next count or delivery is due (None: no more)."""
        times = [events[i][0] for events, i in ((self.counts, self.ci), (self.receipts, self.ri))
                 if i < len(events)]
        return min(times) if times else None

    def advance(self, t: datetime) -> None:
        """Apply every count and delivery up to ``t`` (inclusive), in time order, counts first."""
        counts, receipts = self.counts, self.receipts
        while True:
            next_count = counts[self.ci][0] if self.ci < len(counts) else None
            next_receipt = receipts[self.ri][0] if self.ri < len(receipts) else None
            if next_count is not None and next_count <= t and (next_receipt is None or next_count <= next_receipt):
                self.counted_at, self.count = counts[self.ci]
                self.balance, self.received, self.sold = self.count, ZERO, ZERO
                self.ci += 1
            elif next_receipt is not None and next_receipt <= t:
                if self.balance is not None:
                    self.balance += receipts[self.ri][1]
                    self.received += receipts[self.ri][1]
                self.ri += 1
            else:
                self.next_at = self._next()
                return


def check(settlements: Sequence[Settlement], ctx: AuditContext) -> list[Flag]:
    records = ctx.records
    if not records.stock_counts:
        return []
    counts: dict[tuple[str, str], list] = defaultdict(list)
    for c in records.stock_counts:
        counts[(c.pharmacy_id, c.item_code)].append((c.counted_at, c.quantity))
    receipts: dict[tuple[str, str], list] = defaultdict(list)
    for p in records.purchases:
        key = (p.pharmacy_id, p.item_code)
        if key in counts:
            receipts[key].append((p.received_at, p.quantity))
    ledgers = {key: Ledger(value, receipts.get(key, [])) for key, value in counts.items()}
    del counts, receipts

    flags = []
    for s in sorted(settlements, key=attrgetter("settled_at")):
        for item in s.items:
            ledger = ledgers.get((s.pharmacy_id, item.item_code))
            if ledger is None:
                continue
            if ledger.next_at is not None and ledger.next_at <= s.settled_at:
                ledger.advance(s.settled_at)
            if ledger.balance is None:
                continue
            ledger.balance -= item.quantity
            ledger.sold += item.quantity
            if ledger.balance < 0:
                flags.append(_flag(s, item.item_code, item.quantity, ledger, ctx))
    return flags


def _flag(s: Settlement, item_code: str, quantity: Decimal, ledger: Ledger, ctx: AuditContext) -> Flag:
    assert ledger.counted_at is not None and ledger.balance is not None
    evidence = {"pharmacy_id": s.pharmacy_id, "item_code": item_code,
                "counted_at": ledger.counted_at.isoformat(), "count": _num(ledger.count),
                "received_since": _num(ledger.received), "sold_since": _num(ledger.sold),
                "this_sale": _num(quantity), "balance": _num(ledger.balance)}
    reason = (f"Item {item_code}: {_num(ledger.sold)} sold since the stock count of "
              f"{ledger.counted_at:%Y-%m-%d %H:%M} ({_num(ledger.count)}) plus {_num(ledger.received)} "
              f"received; {_num(-ledger.balance)} more sold than the pharmacy had")
    return Flag(s.settlement_id, FlagKind.STOCK_SHORTFALL, 0.85, reason, (ctx.evidence(s, {"ledger": evidence}),))
