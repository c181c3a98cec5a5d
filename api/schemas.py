"""Request, query and response schemas, kept apart."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rxaudit.db.queries import FlagFilters, FlagView
from rxaudit.domain import FlagKind, ReviewStatus


class FlagQuery(BaseModel):
    """Typed filters (repeat a parameter for several values: ``?kind=burst&kind=no_customer``)."""

    model_config = ConfigDict(extra="forbid")

    district: list[str] = Field(default_factory=list)
    pharmacy_id: list[str] = Field(default_factory=list)
    kind: list[FlagKind] = Field(default_factory=list)
    status: list[ReviewStatus] = Field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    min_score: float | None = Field(default=None, ge=0, le=1)
    max_score: float | None = Field(default=None, ge=0, le=1)
    sort: Literal["newest", "score"] = "newest"
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=50, ge=1, le=500)

    def filters(self) -> FlagFilters:
        return FlagFilters(
            districts=tuple(self.district), pharmacies=tuple(self.pharmacy_id),
            kinds=tuple(str(k) for k in self.kind), statuses=tuple(str(s) for s in self.status),
            date_from=self.date_from, date_to=self.date_to, min_score=self.min_score,
            max_score=self.max_score, sort=self.sort, page=self.page, page_size=self.page_size)


class FlagOut(BaseModel):
    id: int
    settlement_id: str
    kind: str
    score: float
    reason: str
    review_status: str
    pharmacy_id: str
    pharmacy_name: str | None
    district: str | None
    counter_id: str
    settled_at: datetime
    amount: str
    evidence: list[dict[str, Any]]
    created_at: datetime

    @classmethod
    def of(cls, view: FlagView) -> FlagOut:
        f, s = view.flag, view.settlement
        return cls(id=f.id, settlement_id=f.settlement_id, kind=f.kind, score=f.score, reason=f.reason,
                   review_status=f.review_status, pharmacy_id=s.pharmacy_id,
                   pharmacy_name=view.pharmacy_name, district=view.district, counter_id=s.counter_id,
                   settled_at=s.settled_at, amount=str(s.amount),
                   evidence=list(f.evidence.get("items", [])), created_at=f.created_at)


class FlagPage(BaseModel):
    items: list[FlagOut]
    total: int
    page: int
    page_size: int


class SettlementOut(BaseModel):
    settlement_id: str
    pharmacy_id: str
    counter_id: str
    district: str | None
    settled_at: datetime
    amount: str
    card_hash: str
    items: list[dict[str, Any]]
    status: str | None
    seen: dict[str, Any]
    flags: list[dict[str, Any]]


class StatsOut(BaseModel):
    total: int
    by_district: dict[str, int]
    by_pharmacy: dict[str, int]
    by_kind: dict[str, int]
    by_day: dict[str, int]
    by_status: dict[str, int]
    confirmed_rate: float | None


class FootfallRow(BaseModel):
    pharmacy_id: str
    name: str | None
    district: str | None
    day: str
    settlements: int
    verified_settlements: int
    visitors: int
    swipes_per_visitor: float | None
    alert: bool
