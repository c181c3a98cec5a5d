"""SQLAlchemy 2.0 typed models. Card ids appear only as keyed hashes; face encodings only in
``face_signatures``, which is purged after ``face_retention_days``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, Numeric, String,
                        Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC on every backend (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, Decimal: Numeric(12, 2)}


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

    settlement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(64), index=True)
    counter_id: Mapped[str] = mapped_column(String(64))
    settled_at: Mapped[datetime] = mapped_column(index=True)
    card_hash: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[Decimal]
    items: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CheckRow(Base):
    """One per settlement: the latest outcome and what was seen (clean ones included)."""

    __tablename__ = "checks"

    settlement_id: Mapped[str] = mapped_column(
        ForeignKey("settlements.settlement_id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    seen: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlagRow(Base):
    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("settlement_id", "kind", name="uq_flags_settlement_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settlement_id: Mapped[str] = mapped_column(
        ForeignKey("settlements.settlement_id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    score: Mapped[float]
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    review_status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


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

    pharmacy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    district: Mapped[str] = mapped_column(String(64), index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    districts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"districts": [...]}
    active: Mapped[bool] = mapped_column(default=True)
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

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # corrected detector boxes on the keyframe, [{"cls": ..., "box": [x1, y1, x2, y2]}], when given
    boxes: Mapped[list[Any] | None] = mapped_column(JSON, default=None)


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
