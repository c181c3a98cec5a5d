"""SQLAlchemy 2.0 typed models. Card ids appear only as keyed hashes; face encodings only in
``face_signatures``, which is purged after ``face_retention_days``. The base and the recorder's
camera tables live in their own modules and are named here too (every table is in ``Base.metadata``
once this package is imported)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, false, select
from sqlalchemy.orm import Mapped, mapped_column

from database.models.base import Base, UTCDateTime, utcnow
from database.models.cameras import CameraClockRow, CameraGapRow, CameraHealthRow, CameraTamperRow
from database.models.live import LiveSettlement
from rxaudit.limits import ID_LEN, TEXT_LEN, TRACE_CODE_LEN

__all__ = ["Base", "UTCDateTime", "utcnow", "CameraClockRow", "CameraGapRow", "CameraHealthRow", "CameraTamperRow",
           "LiveSettlement"]


class AuditRun(Base):
    __tablename__ = "audit_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    settlements_file: Mapped[str] = mapped_column(Text)
    videos: Mapped[str] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SettlementRow(Base):
    __tablename__ = "settlements"

    settlement_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    counter_id: Mapped[str] = mapped_column(String(ID_LEN))
    settled_at: Mapped[datetime] = mapped_column(index=True)
    card_hash: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    amount: Mapped[Decimal]
    items: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


def _from_settlement(column: str):
    """A column default for a copy of the settlement's ``column``, for writers that leave it out."""
    def default(context) -> Any:
        table = SettlementRow.__table__
        sid = context.get_current_parameters()["settlement_id"]
        return context.connection.scalar(select(table.c[column]).where(table.c.settlement_id == sid))
    return default


class CheckRow(Base):
    """One per settlement: the latest outcome and what was seen (clean ones included)."""

    __tablename__ = "checks"

    settlement_id: Mapped[str] = mapped_column(
        ForeignKey("settlements.settlement_id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    seen: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    # copied from the settlement and its visit, for the footfall counts (triggers of migration 0005)
    pharmacy_id: Mapped[str | None] = mapped_column(String(64), default=_from_settlement("pharmacy_id"))
    settled_at: Mapped[datetime | None] = mapped_column(default=_from_settlement("settled_at"))
    visit_key: Mapped[str | None] = mapped_column(String(255))  # counter|track|start of the visit seen


class FlagRow(Base):
    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("settlement_id", "kind", name="uq_flags_settlement_kind"),
                      # the wall's lists: newest first, by kind, by pharmacy (district), by score
                      Index("ix_flags_settled_at_id", "settled_at", "id"),
                      Index("ix_flags_kind_settled_at", "kind", "settled_at", "id"),
                      Index("ix_flags_pharmacy_settled_at", "pharmacy_id", "settled_at", "id"),
                      Index("ix_flags_score_id", "score", "id"),
                      Index("ix_flags_updated_at_id", "updated_at", "id"))  # the API's updated_since

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settlement_id: Mapped[str] = mapped_column(
        ForeignKey("settlements.settlement_id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    score: Mapped[float]
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    review_status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # copied from the settlement: lists and counts need no join (filled from it when left out)
    pharmacy_id: Mapped[str | None] = mapped_column(String(64), default=_from_settlement("pharmacy_id"))
    settled_at: Mapped[datetime | None] = mapped_column(default=_from_settlement("settled_at"))


class FlagCount(Base):
    """Flags per pharmacy, local day (in ``aggregate_meta``'s time zone), kind and review status.
    Kept by triggers on ``flags`` (migration 0005), so the wall's counts never scan the flags."""

    __tablename__ = "flag_counts"

    pharmacy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    review_status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class FootfallDay(Base):
    """Audited settlements (and those whose footage could be judged) per pharmacy and local day."""

    __tablename__ = "footfall_days"

    pharmacy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    settlements: Mapped[int] = mapped_column(Integer, default=0)
    verified: Mapped[int] = mapped_column(Integer, default=0)


class FootfallVisit(Base):
    """Distinct visits seen per pharmacy and local day (``n``: settlements at that visit)."""

    __tablename__ = "footfall_visits"

    pharmacy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    visit_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class AggregateMeta(Base):
    """One row: the time zone whose local days the counts above are kept in (and, for SQLite,
    which has no time-zone database, its fixed UTC offset in minutes)."""

    __tablename__ = "aggregate_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    utc_offset_min: Mapped[int] = mapped_column(Integer)


class FaceSignature(Base):
    """Biometric data: a visit's mean face encoding, kept ``face_retention_days`` at most."""

    __tablename__ = "face_signatures"
    __table_args__ = (Index("ix_face_signatures_settled_at", "settled_at"),)

    settlement_id: Mapped[str] = mapped_column(
        ForeignKey("settlements.settlement_id", ondelete="CASCADE"), primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(64))
    card_hash: Mapped[str] = mapped_column(String(64))
    settled_at: Mapped[datetime]
    encoding: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RejectedRowRecord(Base):
    __tablename__ = "rejected_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(255))
    line: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)


class Pharmacy(Base):
    """Which district a pharmacy belongs to (``rxaudit pharmacies load``): the unit of scoping."""

    __tablename__ = "pharmacies"

    pharmacy_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(TEXT_LEN))
    district: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    lat: Mapped[float | None]  # card_conflict: travel time between pharmacies
    lon: Mapped[float | None]
    operator: Mapped[str | None] = mapped_column(String(TEXT_LEN))  # 经营者 (the licensee), for case files
    address: Mapped[str | None] = mapped_column(String(TEXT_LEN))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    districts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"districts": [...]}
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # who signs a case file: the reviewer's full name and badge (执法证) number (`rxaudit user identity`)
    full_name: Mapped[str | None] = mapped_column(String(64))
    badge_no: Mapped[str | None] = mapped_column(String(32))


class CaseNumber(Base):
    """The case number a flag gets at its first export (``<district>-<yyyy>-<seq>``): never changes,
    never reused (``database.case_numbers``)."""

    __tablename__ = "case_numbers"
    __table_args__ = (UniqueConstraint("district", "year", "seq", name="uq_case_numbers_seq"),)

    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True)
    case_no: Mapped[str] = mapped_column(String(96), unique=True)
    district: Mapped[str] = mapped_column(String(ID_LEN))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """Read-only keys for the monitoring wall; only a SHA-256 of the key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    districts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    # "read" (the wall, the API's GETs) or "ingest" (may only POST settlements; reads nothing)
    scope: Mapped[str] = mapped_column(String(16), default="read", server_default="read")


class LoginSession(Base):
    """A signed-in browser: the cookie holds a random token, the database its SHA-256."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class Verdict(Base):
    """Append-only audit trail: who said what about a flag, when. Never updated or deleted."""

    __tablename__ = "verdicts"
    __table_args__ = (Index("ix_verdicts_user_id_id", "user_id", "id"),)  # a reviewer's latest verdicts

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # corrected detector boxes on the keyframe, [{"cls": ..., "box": [x1, y1, x2, y2]}], when given
    boxes: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    # a dismissal's structured reason (wrong_detection, customer_off_camera, clock_offset, other)
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    bulk: Mapped[bool] = mapped_column(default=False, server_default=false())  # given to many flags at once
    # verdicts given together (a cluster, a bulk selection) share the first one's id: undone together
    batch_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    undoes: Mapped[int | None] = mapped_column(Integer, default=None, unique=True)  # the verdict it takes back
    prev_status: Mapped[str | None] = mapped_column(String(16), default=None)  # the flag's status before


class SegmentListing(Base):
    """When a store's counter folder was last listed: a later batch reuses the cached index."""

    __tablename__ = "segment_listings"

    store: Mapped[str] = mapped_column(String(512), primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    counter_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    listed_at: Mapped[datetime] = mapped_column(default=utcnow)
    exists: Mapped[bool] = mapped_column(default=True)


class SegmentEntry(Base):
    __tablename__ = "segment_entries"

    store: Mapped[str] = mapped_column(String(512), primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    counter_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    start: Mapped[datetime]


class Batch(Base):
    """One batch over a log (identified by its content, the store and the day): resumable."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    settlements_file: Mapped[str] = mapped_column(Text)
    videos: Mapped[str] = mapped_column(Text)
    day: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("audit_runs.id"))


class BatchTask(Base):
    """A counter's settlements close in time: decoded together, their summaries stored with the
    'done' mark in one transaction, so a killed batch resumes without loss or duplicates."""

    __tablename__ = "batch_tasks"
    __table_args__ = (UniqueConstraint("batch_id", "seq", name="uq_batch_tasks_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int]
    pharmacy_id: Mapped[str] = mapped_column(String(64))
    counter_id: Mapped[str] = mapped_column(String(64))
    settlement_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    finished_at: Mapped[datetime | None]


class PurchaseRow(Base):
    """Goods received by a pharmacy (进货), from ``purchases.csv``; one row per delivery line."""

    __tablename__ = "purchases"
    __table_args__ = (UniqueConstraint("pharmacy_id", "item_code", "received_at", "invoice_no",
                                       name="uq_purchases_line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(ID_LEN))
    item_code: Mapped[str] = mapped_column(String(ID_LEN))
    quantity: Mapped[Decimal]
    received_at: Mapped[datetime]
    supplier: Mapped[str] = mapped_column(String(TEXT_LEN), default="")
    invoice_no: Mapped[str] = mapped_column(String(ID_LEN), default="")


class StockCountRow(Base):
    """A stock count (盘点) from ``stock.csv``: the opening balance for the sales after it."""

    __tablename__ = "stock_counts"

    pharmacy_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    counted_at: Mapped[datetime] = mapped_column(primary_key=True)
    quantity: Mapped[Decimal]


class SoldTraceCode(Base):
    """A drug traceability code (药品追溯码) sold on a settlement line: later audits look codes up
    here, so a box sold twice is found across pharmacies and months."""

    __tablename__ = "sold_trace_codes"
    __table_args__ = (Index("ix_sold_trace_codes_settlement", "settlement_id"),)

    code: Mapped[str] = mapped_column(String(TRACE_CODE_LEN), primary_key=True)
    settlement_id: Mapped[str] = mapped_column(
        ForeignKey("settlements.settlement_id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_code: Mapped[str] = mapped_column(String(ID_LEN))  # pharmacy and time: from the settlement


class AuditLogEntry(Base):
    """Append-only record of what people and keys did: exports, sign-ins, verdicts, users and keys
    (``database.audit_log``). Never updated or deleted; card ids never appear in it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at", "id"), Index("ix_audit_log_action_at", "action", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))  # user | apikey | system
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))  # e.g. export, sign_in, verdict, key_create
    subject: Mapped[str] = mapped_column(String(255), default="")  # e.g. "flags:1,2,3"
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SettlementConflictRow(Base):
    """A log row rejected because its settlement id is stored with other content
    (``reconcile.conflicts``): kept for supervisors and admins. Which fields differ, never a value."""

    __tablename__ = "settlement_conflicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id"), index=True)  # the run that rejected it
    settlement_id: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(255))
    line: Mapped[int]
    stored_run_id: Mapped[int | None]  # the run that last audited the stored settlement
    fields: Mapped[str] = mapped_column(String(255))  # the names that differ, comma-separated
