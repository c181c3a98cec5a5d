"""The records side of an audit (进销存 and 药品追溯码): purchases, stock counts, pharmacy locations,
and traceability codes sold earlier. Frozen, validated like the rest of the domain model."""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np

from rxaudit.domain import _require_aware


@dataclass(frozen=True, slots=True)
class Purchase:
    """Goods received by a pharmacy (进货): adds to its stock of ``item_code`` from ``received_at``."""

    pharmacy_id: str
    item_code: str
    quantity: Decimal
    received_at: datetime
    supplier: str = ""
    invoice_no: str = ""
    line: int | None = None

    def __post_init__(self) -> None:
        if not self.pharmacy_id or not self.item_code:
            raise ValueError("pharmacy_id and item_code must not be empty")
        _require_aware("received_at", self.received_at)
        if not self.quantity.is_finite() or self.quantity <= 0:
            raise ValueError(f"quantity must be positive, got {self.quantity}")


@dataclass(frozen=True, slots=True)
class StockCount:
    """A stock count (盘点): the opening balance for every sale after it, until the next count."""

    pharmacy_id: str
    item_code: str
    quantity: Decimal
    counted_at: datetime
    line: int | None = None

    def __post_init__(self) -> None:
        if not self.pharmacy_id or not self.item_code:
            raise ValueError("pharmacy_id and item_code must not be empty")
        _require_aware("counted_at", self.counted_at)
        if not self.quantity.is_finite() or self.quantity < 0:
            raise ValueError(f"quantity must not be negative, got {self.quantity}")


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"lat,lon out of range: {self.lat},{self.lon}")

    def km_to(self, other: Location) -> float:
        """Great-circle distance (haversine, mean Earth radius)."""
        p1, p2 = math.radians(self.lat), math.radians(other.lat)
        dp, dl = p2 - p1, math.radians(other.lon - self.lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class PharmacyEntry:
    """A row of the ``pharmacies.csv`` beside a log: the registry's name and district of a pharmacy
    (blank where the file has none), where it is, and for case files its licensee (经营者) and address."""

    pharmacy_id: str
    name: str = ""
    district: str = ""
    location: Location | None = None
    licensee: str = ""
    address: str = ""
    line: int | None = None

    def __post_init__(self) -> None:
        if not self.pharmacy_id:
            raise ValueError("pharmacy_id must not be empty")


@dataclass(frozen=True, slots=True)
class CodeSale:
    """A traceability code on a settlement line stored by an earlier audit."""

    code: str
    settlement_id: str
    pharmacy_id: str
    item_code: str
    settled_at: datetime


@dataclass(frozen=True, slots=True)
class CardSale:
    """A settlement an earlier audit stored, of a card settled in this batch, near in time."""

    settlement_id: str
    card_hash: str
    pharmacy_id: str
    counter_id: str
    settled_at: datetime


_HALF = 10**10  # a 20-digit code is held as two 10-digit halves (it does not fit in 64 bits)


class SoldCodes:
    """The traceability codes on a batch's settlement lines, held compactly: a month of a city
    carries millions, which as Python strings cost ~70 bytes each plus a tuple per line (and keep
    every line's SettlementItem distinct). Here a code is two 10-digit halves in ``array('Q')``
    (16 bytes), and a line that carries codes is its settlement id, line number (1-based) and item
    code (shared strings) and where its codes end. Lines with more codes than units are noted as
    they are added (``overfull``: settlement id, line number, item code, codes, quantity).

    The audit's reader fills one (``ingest.settlements.read_settlements(sold_codes=...)``), and its
    settlements then carry no codes on their lines; :meth:`of` builds one from settlements that do."""

    __slots__ = ("sids", "line_nos", "item_codes", "ends", "hi", "lo", "overfull", "_sorted")

    def __init__(self) -> None:
        self.sids: list[str] = []
        self.line_nos = array("I")
        self.item_codes: list[str] = []
        self.ends = array("Q")  # codes[ends[i-1]:ends[i]] are line i's
        self.hi = array("Q")
        self.lo = array("Q")
        self.overfull: list[tuple[str, int, str, int, Decimal]] = []
        self._sorted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def of(cls, settlements: Iterable) -> SoldCodes:
        """The codes the settlements' lines carry, in the settlements' order."""
        sold = cls()
        for s in settlements:
            for n, item in enumerate(s.items, start=1):
                sold.add(s.settlement_id, n, item.item_code, item.quantity, item.trace_codes)
        return sold

    def add(self, settlement_id: str, line_no: int, item_code: str, quantity: Decimal,
            codes: tuple[str, ...]) -> None:
        """One settlement line's codes (20 digits each, as checked by the reader); none: nothing."""
        if not codes:
            return
        hi, lo = self.hi, self.lo
        for code in codes:
            h, l = divmod(int(code), _HALF)
            hi.append(h)
            lo.append(l)
        self.sids.append(settlement_id)
        self.line_nos.append(line_no)
        self.item_codes.append(item_code)
        self.ends.append(len(hi))
        if len(codes) > quantity:
            self.overfull.append((settlement_id, line_no, item_code, len(codes), quantity))
        self._sorted = None

    def drop(self, settlement_ids: Collection[str]) -> None:
        """Forget the lines of these settlements (rows the reader rejected)."""
        if not any(sid in settlement_ids for sid in self.sids):
            return
        sids, line_nos, item_codes, ends, hi, lo = (self.sids, self.line_nos, self.item_codes, self.ends,
                                                    self.hi, self.lo)
        overfull = [o for o in self.overfull if o[0] not in settlement_ids]
        self.__init__()  # type: ignore[misc]
        start = 0
        for i, sid in enumerate(sids):
            if sid not in settlement_ids:
                self.hi.extend(hi[start:ends[i]])
                self.lo.extend(lo[start:ends[i]])
                self.sids.append(sid)
                self.line_nos.append(line_nos[i])
                self.item_codes.append(item_codes[i])
                self.ends.append(len(self.hi))
            start = ends[i]
        self.overfull = overfull

    def __len__(self) -> int:
        """Lines that carry codes."""
        return len(self.sids)

    @property
    def code_count(self) -> int:
        return len(self.hi)

    def code(self, position: int) -> str:
        return f"{self.hi[position]:010d}{self.lo[position]:010d}"

    def line_of(self, position: int) -> int:
        """The line (index into ``sids``) that carries the code at ``position``."""
        return int(np.searchsorted(np.frombuffer(self.ends, dtype=np.uint64), position, side="right"))

    def codes(self, line: int) -> tuple[str, ...]:
        start = self.ends[line - 1] if line else 0
        return tuple(self.code(p) for p in range(start, self.ends[line]))

    def lines(self) -> Iterator[tuple[str, int, str, tuple[str, ...]]]:
        """Every line: (settlement id, line number, item code, codes)."""
        for i, sid in enumerate(self.sids):
            yield sid, self.line_nos[i], self.item_codes[i], self.codes(i)

    def code_rows(self, block: int = 20_000) -> Iterator[list[tuple[str, str, int, str]]]:
        """What is stored of every line, in line order, ``block`` lines at a time (a month's
        millions of codes never all made text at once): lists of (code, settlement id, line number,
        item code), one for each of a line's codes, a code given twice on one line once."""
        ends = np.frombuffer(self.ends, dtype=np.uint64).astype(np.int64)
        for first in range(0, len(self.sids), block):
            last = min(first + block, len(self.sids))
            start, stop = (int(ends[first - 1]) if first else 0), int(ends[last - 1])
            text = [str(h * _HALF + l).zfill(20) for h, l in zip(self.hi[start:stop], self.lo[start:stop])]
            counts = np.diff(ends[first:last], prepend=start)
            line = np.repeat(np.arange(first, last), counts).tolist()  # each code's line
            sids, line_nos, items = self.sids, self.line_nos, self.item_codes
            rows = list(zip(text, [sids[i] for i in line], [line_nos[i] for i in line], [items[i] for i in line]))
            if (counts > 1).any() and len(set(zip(text, line))) < len(text):  # a code twice on a line
                rows = list(dict.fromkeys(rows))
            yield rows

    def _by_code(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(positions in code order, their high halves, their low halves)."""
        if self._sorted is None:
            hi, lo = np.frombuffer(self.hi, dtype=np.uint64), np.frombuffer(self.lo, dtype=np.uint64)
            order = np.lexsort((lo, hi)) if len(hi) else np.zeros(0, dtype=np.int64)
            self._sorted = (order, hi[order], lo[order])
        return self._sorted

    def unique_codes(self) -> Iterator[str]:
        """Every distinct code, in order."""
        _, hi, lo = self._by_code()
        if not len(hi):
            return
        new = np.ones(len(hi), dtype=bool)
        new[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
        for h, l in zip(hi[new].tolist(), lo[new].tolist()):
            yield f"{h:010d}{l:010d}"

    def repeated(self) -> dict[str, list[int]]:
        """Codes sold more than once in the batch (twice on one line too) -> their positions."""
        order, hi, lo = self._by_code()
        if len(hi) < 2:
            return {}
        same = np.flatnonzero((hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1]))
        found: dict[str, list[int]] = {}
        for k in same.tolist():
            positions = found.setdefault(self.code(int(order[k])), [int(order[k])])
            positions.append(int(order[k + 1]))
        return found

    def positions(self, code: str) -> list[int]:
        """Where ``code`` is sold in the batch (none: [])."""
        order, hi, lo = self._by_code()
        h, l = divmod(int(code), _HALF)
        a, b = np.searchsorted(hi, h, side="left"), np.searchsorted(hi, h, side="right")
        if a == b:
            return []
        a2 = a + int(np.searchsorted(lo[a:b], l, side="left"))
        b2 = a + int(np.searchsorted(lo[a:b], l, side="right"))
        return [int(p) for p in order[a2:b2]]


@dataclass(frozen=True)
class Records:
    """What the records rules read besides the log: this audit's purchases and stock counts, the
    pharmacies' locations, the earlier sales of the traceability codes sold in this batch, and
    (from the audit's reader) the batch's codes themselves, compactly."""

    purchases: tuple[Purchase, ...] = ()
    stock_counts: tuple[StockCount, ...] = ()
    locations: dict[str, Location] = field(default_factory=dict)
    pharmacies: tuple[PharmacyEntry, ...] = ()  # the pharmacies file's rows, for the registry
    pharmacies_file: str = field(default="", compare=False)  # its name, for the rows the registry refuses
    earlier_codes: dict[str, tuple[CodeSale, ...]] = field(default_factory=dict)
    earlier_cards: dict[str, tuple[CardSale, ...]] = field(default_factory=dict)  # card hash -> sales
    sold_codes: SoldCodes | None = None  # the batch's codes when its lines do not carry them
