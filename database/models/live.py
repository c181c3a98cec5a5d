"""The live inbox: settlements pushed or pulled as they happen, claimed by the live workers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from database.models.base import Base, utcnow
from rxaudit.limits import ID_LEN


class LiveSettlement(Base):
    """The live inbox: a settlement pushed (``POST /api/v1/settlements``) or pulled (JetStream), stored
    before it is acknowledged, then claimed by one live worker once its footage is due. ``state``:
    pending -> claimed (``claimed_by`` holds it until ``lease_until``; an expired lease is claimed again)
    -> done. Same columns as ``settlements`` for the record itself (card ids only as keyed hashes)."""

    __tablename__ = "live_settlements"
    __table_args__ = (Index("ix_live_settlements_state_due", "state", "due_at"),)

    settlement_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    counter_id: Mapped[str] = mapped_column(String(ID_LEN))
    settled_at: Mapped[datetime] = mapped_column(index=True)
    card_hash: Mapped[str] = mapped_column(String(ID_LEN))
    amount: Mapped[Decimal]
    items: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(16))  # api | nats
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]  # when the footage through swipe + after_s should be in the store
    state: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # the check's status once done
