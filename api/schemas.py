"""Request, query and response schemas, kept apart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.timefmt import localize
from rxaudit.bounds import API_ROW_MAX, EVIDENCE_LIST_MAX, REASON_MAX, clip_text, fit_json, json_size
from database.aggregates import MAP_MAX, TOP_MAX, UNLOCATED_MAX, WINDOW_DAYS_MAX, PharmacyBoard, PharmacyTally
from database.queries import FlagFilters, FlagView
from rxaudit.domain import FlagKind, ReviewStatus

# Bounds of what a request may carry, so that out-of-range input is a 422, never a database error.
DB_INT_MAX = 2**31 - 1  # ids are INTEGER columns (32 bits on PostgreSQL)
PAGE_MAX = 1_000_000  # page * page_size stays far inside a 64-bit OFFSET
DATE_MIN, DATE_MAX = date(1970, 1, 1), date(2199, 12, 31)  # plausible settlement days
ID_MAX = 64  # String(64) columns: settlement, pharmacy and counter ids, districts, user names
LIST_MAX = 100  # values of one repeated filter
NOTE_MAX = 2000  # characters of a verdict note (database.verdicts keeps this many)
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"  # one line, no NUL (PostgreSQL text cannot hold NUL)
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # tabs and line breaks allowed

PlainId = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=NO_CONTROL)]
Day = Annotated[date, Field(ge=DATE_MIN, le=DATE_MAX)]
FlagId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
KEYFRAMES_MAX = 1000  # evidence items of one flag (a handful in practice)
KeyframeIndex = Annotated[int, Path(ge=0, le=KEYFRAMES_MAX)]
SettlementId = Annotated[str, Path(min_length=1, max_length=ID_MAX, pattern=NO_CONTROL)]
UserName = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=NO_CONTROL)]
Password = Annotated[str, StringConstraints(max_length=1024)]
Token = Annotated[str, StringConstraints(max_length=128, pattern=NO_CONTROL)]
Note = Annotated[str, StringConstraints(max_length=NOTE_MAX, pattern=TEXT)]
BoxesText = Annotated[str, StringConstraints(max_length=16_384, pattern=TEXT)]
QueryText = Annotated[str, StringConstraints(max_length=4096, pattern=NO_CONTROL)]
STORAGE_KEYS = ("keyframe", "clip")  # evidence fields naming files in storage: never in the API
URLS_DOC = ("paths on this server; fetch them with the caller's API key or session, or, from a "
            "browser on another origin (<img>, <video>), append ?token= a stream token")


class FlagQuery(BaseModel):
    """Typed filters (repeat a parameter for several values: ``?kind=burst&kind=no_customer``)."""

    model_config = ConfigDict(extra="forbid")

    district: list[PlainId] = Field(default_factory=list, max_length=LIST_MAX)
    pharmacy_id: list[PlainId] = Field(default_factory=list, max_length=LIST_MAX)
    kind: list[FlagKind] = Field(default_factory=list, max_length=LIST_MAX)
    status: list[ReviewStatus] = Field(default_factory=list, max_length=LIST_MAX)
    date_from: Day | None = None
    date_to: Day | None = None
    min_score: float | None = Field(default=None, ge=0, le=1)
    max_score: float | None = Field(default=None, ge=0, le=1)
    sort: Literal["newest", "score"] = "newest"
    page: int = Field(default=1, ge=1, le=PAGE_MAX)
    page_size: int = Field(default=50, ge=1, le=500)
    updated_since: AwareDatetime | None = Field(
        default=None, description="only flags created or changed (verdict, re-audit) at or after this "
        "time (ISO 8601 with offset)")

    @field_validator("updated_since")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        if value is not None and not DATE_MIN <= value.astimezone(UTC).date() <= DATE_MAX:
            raise ValueError(f"between {DATE_MIN} and {DATE_MAX}")
        return value

    def filters(self) -> FlagFilters:
        return FlagFilters(
            districts=tuple(self.district), pharmacies=tuple(self.pharmacy_id),
            kinds=tuple(str(k) for k in self.kind), statuses=tuple(str(s) for s in self.status),
            date_from=self.date_from, date_to=self.date_to, min_score=self.min_score,
            max_score=self.max_score, sort=self.sort, page=self.page, page_size=self.page_size,
            updated_since=self.updated_since)


def local(value: datetime, tz: ZoneInfo | None) -> datetime:
    """The API's one time convention: ISO 8601 with the pharmacy's offset, whole seconds."""
    return (value.astimezone(tz) if tz is not None else value).replace(microsecond=0)


def evidence_urls(view: FlagView) -> tuple[list[str], str | None]:
    """(keyframe URLs, clip URL) of a flag: paths on this server, never storage paths."""
    items = view.flag.evidence.get("items", [])
    frames = [f"/flags/{view.flag.id}/keyframes/{i}.jpg" for i, item in enumerate(items) if item.get("keyframe")]
    clip = f"/flags/{view.flag.id}/clip.mp4" if any(item.get("clip") for item in items) else None
    return frames, clip


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
    evidence: list[dict[str, Any]] = Field(description="what was seen: time, boxes, observations "
                                           "(files are under keyframe_urls and clip_url)")
    keyframe_urls: list[str] = Field(description=URLS_DOC)
    clip_url: str | None = Field(description=URLS_DOC)
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: FlagView, tz: ZoneInfo | None = None) -> FlagOut:
        f, s = view.flag, view.settlement
        frames, clip = evidence_urls(view)
        row = cls(id=f.id, settlement_id=f.settlement_id, kind=f.kind, score=f.score,
                  reason=clip_text(f.reason, REASON_MAX), review_status=f.review_status, pharmacy_id=s.pharmacy_id,
                  pharmacy_name=view.pharmacy_name, district=view.district, counter_id=s.counter_id,
                  settled_at=local(s.settled_at, tz), amount=str(s.amount), evidence=[],
                  keyframe_urls=frames[:EVIDENCE_LIST_MAX], clip_url=clip, created_at=local(f.created_at, tz),
                  updated_at=local(f.updated_at or f.created_at, tz))
        budget = API_ROW_MAX - json_size(row.model_dump(mode="json"))  # a row stays small, whatever was stored
        evidence = fit_json([{k: v for k, v in item.items() if k not in STORAGE_KEYS}
                             for item in f.evidence.get("items", [])], budget)
        row.evidence = fit_json(localize(evidence, tz), budget) if tz is not None else evidence
        return row


class StreamTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl_s: int | None = Field(default=None, ge=10, le=300, description="seconds (default and at most "
                              "the server's stream_token_ttl_s, 300)")


class StreamTokenOut(BaseModel):
    token: str
    expires_at: datetime
    expires_in: int
    districts: list[str] | None = Field(description="the districts it sees; null: every district")


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
    head_id: int = Field(description="highest flag id when the counts were read: resume /events after it")
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


class BoardQuery(BaseModel):
    """The wall's pharmacy board: the footfall window (local days up to ``date_to``, today when
    absent) and how many pharmacies each ranking lists."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=30, ge=1, le=WINDOW_DAYS_MAX)
    date_to: Day | None = None
    top: int = Field(default=10, ge=1, le=TOP_MAX)


class PharmacyTallyOut(BaseModel):
    pharmacy_id: str
    name: str | None
    district: str | None
    lat: float | None
    lon: float | None
    open_flags: int = Field(description="flags awaiting review, all days")
    flags: int = Field(description="all flags, all days")
    verified_settlements: int = Field(description="audited settlements in the window whose footage was judged")
    visitors: int = Field(description="distinct visitors seen in the window (per local day, summed)")
    swipes_per_visitor: float | None = Field(description="verified_settlements / visitors; null: no visitor")

    @classmethod
    def of(cls, t: PharmacyTally) -> PharmacyTallyOut:
        return cls(pharmacy_id=t.pharmacy_id, name=t.name, district=t.district, lat=t.lat, lon=t.lon,
                   open_flags=t.open_flags, flags=t.flags, verified_settlements=t.verified_settlements,
                   visitors=t.visitors, swipes_per_visitor=t.swipes_per_visitor)


class PharmacyBoardOut(BaseModel):
    date_from: date
    date_to: date
    min_swipes: int = Field(description="judged settlements a pharmacy needs in the window to be ranked "
                            "by swipes per visitor")
    pharmacies: int = Field(description="pharmacies the caller sees")
    located: list[PharmacyTallyOut] = Field(description=f"pharmacies with lat/lon, most open flags first "
                                            f"(at most {MAP_MAX})")
    unlocated: list[PharmacyTallyOut] = Field(description=f"pharmacies without lat/lon, most open flags "
                                              f"first (at most {UNLOCATED_MAX})")
    unlocated_total: int
    by_open_flags: list[PharmacyTallyOut]
    by_swipes_per_visitor: list[PharmacyTallyOut]

    @classmethod
    def of(cls, b: PharmacyBoard) -> PharmacyBoardOut:
        rows = lambda ts: [PharmacyTallyOut.of(t) for t in ts]  # noqa: E731
        return cls(date_from=b.day_from, date_to=b.day_to, min_swipes=b.min_swipes, pharmacies=b.pharmacies,
                   located=rows(b.located), unlocated=rows(b.unlocated), unlocated_total=b.unlocated_total,
                   by_open_flags=rows(b.by_open_flags), by_swipes_per_visitor=rows(b.by_swipes_per_visitor))
