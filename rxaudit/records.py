"""The records side of an audit (进销存 and 药品追溯码): purchases, stock counts, pharmacy locations,
and traceability codes sold earlier. Frozen, validated like the rest of the domain model."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

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
class CodeSale:
    """A traceability code on a settlement line stored by an earlier audit."""

    code: str
    settlement_id: str
    pharmacy_id: str
    item_code: str
    settled_at: datetime


@dataclass(frozen=True)
class Records:
    """What the records rules read besides the log: this audit's purchases and stock counts, the
    pharmacies' locations, and the earlier sales of the traceability codes sold in this batch."""

    purchases: tuple[Purchase, ...] = ()
    stock_counts: tuple[StockCount, ...] = ()
    locations: dict[str, Location] = field(default_factory=dict)
    earlier_codes: dict[str, tuple[CodeSale, ...]] = field(default_factory=dict)
