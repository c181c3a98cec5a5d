"""The one place for what a field of an input row may hold, shared by every reader (the log, its
item lines, the catalogue, purchases, stock counts, pharmacy coordinates):

- text: not empty where required, and no longer than the database column that stores it
  (:data:`MAX_LENGTH`, from ``rxaudit.limits``, which the database's columns are declared with; a
  field named like a stored column is held to the shortest such column, in every file);
- numbers: finite, not negative, within the NUMERIC column that stores them (:data:`AMOUNT`,
  :data:`QUANTITY`: digits before the point and decimal places); a settlement line's quantity and
  unit price, kept as text, within the same digits before the point;
- times: aware (``input_timezone`` for those without an offset) and within ``settled_at_min ..
  settled_at_max`` (settings), so none overflows on its way to UTC;
- coordinates: finite.

A field that breaks a rule is a :class:`~ingest.reasons.RowError` naming the column, never the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ingest import times
from ingest.csv_reader import AUTO
from ingest.header_map import builtin_aliases, load_aliases
from ingest.reasons import RowError
from rxaudit import limits

MAX_LENGTH: Mapping[str, int] = limits.MAX_LENGTH


@dataclass(frozen=True, slots=True)
class Digits:
    """How large and how fine a number may be: digits before the point, and decimal places
    (``None``: any, for a number kept as text)."""

    before_point: int
    decimal_places: int | None

    def any_places(self) -> Digits:
        return Digits(self.before_point, None)


AMOUNT = Digits(limits.NUMERIC_PRECISION - limits.NUMERIC_SCALE, limits.NUMERIC_SCALE)  # NUMERIC(12, 2)
QUANTITY = AMOUNT  # purchases' and stock counts' quantity: the same NUMERIC(12, 2)
LINE_QUANTITY = QUANTITY.any_places()  # a settlement line's, weighed against purchases and stock
UNIT_PRICE = AMOUNT.any_places()


@dataclass(frozen=True)
class IngestOptions:
    """How input files are read: their encoding, header aliases, the zone of times written without
    an offset and the accepted range of every time (``settled_at_min .. settled_at_max``)."""

    encoding: str = AUTO
    settled_at_min: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    settled_at_max: datetime = datetime(2100, 1, 1, tzinfo=UTC)
    aliases: Mapping[str, str] = field(default_factory=builtin_aliases)  # exported header -> column
    input_timezone: str | None = times.DEFAULT_INPUT_TIMEZONE  # of times written without an offset

    @classmethod
    def from_settings(cls, settings) -> IngestOptions:
        return cls(encoding=settings.input_encoding, settled_at_min=settings.settled_at_min,
                   settled_at_max=settings.settled_at_max, aliases=load_aliases(settings.column_map),
                   input_timezone=settings.input_timezone)


def required(row: Mapping[str, str], column: str) -> str:
    """``column``'s text, stripped: present, not empty, within :data:`MAX_LENGTH`."""
    value = row.get(column)
    if value is None:
        raise RowError(None, f"missing field {column}")
    value = value.strip()
    if not value:
        raise RowError(None, f"empty field {column}")
    return within_length(column, value)


def optional(row: Mapping[str, str], column: str) -> str:
    """``column``'s text, stripped ('' when absent or blank), within :data:`MAX_LENGTH`."""
    return within_length(column, (row.get(column) or "").strip())


Texts = Callable[[Mapping[str, str]], list[str]]


def texts(*columns: tuple[str, bool]) -> Texts:
    """A reader of several text fields of a row at once: ``(column, required)`` pairs, checked in
    the order given exactly as :func:`required` (``True``) or :func:`optional` (``False``) check
    them, with each column's limit looked up once rather than at every cell (a city's month of item
    lines is millions of cells). Returns the stripped texts in that order."""
    spec = tuple((column, needed, MAX_LENGTH.get(column)) for column, needed in columns)

    def read(row: Mapping[str, str]) -> list[str]:
        out = []
        for column, needed, limit in spec:
            value = row.get(column)
            if value is None:
                if needed:
                    raise RowError(None, f"missing field {column}")
                value = ""
            else:
                value = value.strip()
                if not value and needed:
                    raise RowError(None, f"empty field {column}")
            if limit is not None and len(value) > limit:
                raise RowError(column, f"is longer than {limit} characters")
            out.append(value)
        return out

    return read


def within_length(column: str, value: str) -> str:
    limit = MAX_LENGTH.get(column)
    if limit is not None and len(value) > limit:
        raise RowError(column, f"is longer than {limit} characters")
    return value


def decimal(column: str, text: str, digits: Digits | None = None, *, positive: bool = False) -> Decimal:
    """A finite number, not negative (``positive``: above zero), within ``digits`` when given."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise RowError(column, "is not a number", text) from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise RowError(column, "must be a positive number" if positive else "must be a non-negative number",
                       text)
    if digits is not None:
        if value >= Decimal(10) ** digits.before_point:
            raise RowError(column, f"is too large (at most {digits.before_point} digits before the point)")
        places = digits.decimal_places
        if places is not None and value != value.quantize(Decimal(1).scaleb(-places)):
            raise RowError(column, f"has more than {places} decimal places")
    return value


def finite_float(column: str, text: str) -> float:
    """A finite float (no ``nan``, ``inf``, ``1e999``)."""
    try:
        value = float(text)
    except ValueError:
        raise RowError(column, "is not a number" if text else "is empty", text) from None
    if not math.isfinite(value):
        raise RowError(column, "is not a finite number", text)
    return value


def time_in_range(column: str, text: str, options: IngestOptions) -> datetime:
    """An aware time within ``options.settled_at_min .. settled_at_max``."""
    value = times.parse_time(text, column, times.zone(options.input_timezone))
    if not options.settled_at_min <= value < options.settled_at_max:
        raise RowError(column, f"is outside {options.settled_at_min:%Y-%m-%d} .. "
                       f"{options.settled_at_max:%Y-%m-%d} (settings settled_at_min, settled_at_max)")
    return value
