"""The declarative base every table shares: aware datetimes stored as UTC, JSON, amounts as NUMERIC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Numeric, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

from rxaudit.limits import NUMERIC_PRECISION, NUMERIC_SCALE


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
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, Decimal: Numeric(NUMERIC_PRECISION, NUMERIC_SCALE)}
