"""Readers of the records beside a settlement log: ``purchases.csv`` (进货), ``stock.csv`` (盘点) and the
optional ``lat,lon`` of ``pharmacies.csv``; plus the ``trace_codes`` field of a settlement line.

    purchases.csv  pharmacy_id,item_code,quantity,received_at,supplier,invoice_no
    stock.csv      pharmacy_id,item_code,quantity,counted_at

CSV (UTF-8 or GB18030) or .xlsx, headers in English or Chinese (``ingest.header_map``). Each reader
returns ``(rows, rejected)``: a bad row is rejected with its file and line (sheet row) and the rest
are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from sys import intern
from typing import TypeVar

from ingest import times
from ingest.csv_reader import AUTO, CsvReject
from ingest.header_map import builtin_aliases
from ingest.reasons import RowError
from ingest.tables import XlsxSource, beside, open_table
from rxaudit.domain import RejectedRow
from rxaudit.records import Location, Purchase, Records, StockCount

T = TypeVar("T")

PURCHASE_COLUMNS = ("pharmacy_id", "item_code", "quantity", "received_at")
STOCK_COLUMNS = ("pharmacy_id", "item_code", "quantity", "counted_at")
PURCHASES_FILE, STOCK_FILE, PHARMACIES_FILE = "purchases.csv", "stock.csv", "pharmacies.csv"
TRACE_CODE_LENGTH = 20
_CODE = re.compile(r"[0-9]{20}")
_CODES = re.compile(r"[0-9]{20}(?:;[0-9]{20})*;?")


def text(row: Mapping[str, str], column: str) -> str:
    value = (row.get(column) or "").strip()
    if not value:
        raise RowError(column, "is empty")
    return value


# deliveries and counts repeat their times and quantities: one shared (immutable) object per text
_time = lru_cache(maxsize=65536)(times.parse_time)
_decimal = lru_cache(maxsize=65536)(Decimal)


def aware_time(row: Mapping[str, str], column: str, input_timezone: str | None) -> datetime:
    return _time(text(row, column), column, times.zone(input_timezone))


def number(row: Mapping[str, str], column: str, *, positive: bool = False) -> Decimal:
    raw = text(row, column)
    try:
        value = _decimal(raw)
    except InvalidOperation:
        raise RowError(column, "is not a number", raw) from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise RowError(column, "must be a positive number" if positive else "must not be negative", raw)
    return value


def trace_codes(raw: str | None, column: str = "trace_codes") -> tuple[str, ...]:
    """``;``-separated 20-digit codes (blank: none; spaces and a trailing ``;`` are allowed).
    RowError names the bad one by position, never its digits."""
    if raw is None:
        return ()
    if _CODES.fullmatch(raw):  # the common case, at millions of lines a month
        return tuple(raw.removesuffix(";").split(";"))
    raw = raw.strip()
    if not raw:
        return ()
    parts = [part.strip() for part in raw.removesuffix(";").split(";")]
    for n, code in enumerate(parts, start=1):
        if not _CODE.fullmatch(code):
            raise RowError(column, f"code {n} is not {TRACE_CODE_LENGTH} digits", code)
    return tuple(parts)


def read_rows(path: Path, required: tuple[str, ...], parse: Callable[[Mapping[str, str]], T], *,
              aliases: Mapping[str, str] | None = None,
              encoding: str = AUTO) -> tuple[list[T], list[RejectedRow]]:
    """Every row through ``parse``; rejects (bad records and RowError/ValueError) keep their line."""
    parsed: list[T] = []
    rejected: list[RejectedRow] = []
    aliases = builtin_aliases() if aliases is None else aliases
    try:
        with open_table(path, required=required, aliases=aliases, encoding=encoding) as rows:
            source = f"{path.name} sheet {rows.sheet.title}" if isinstance(rows, XlsxSource) else path.name
            for row in rows:
                if isinstance(row, CsvReject):
                    rejected.append(RejectedRow(source, row.line, row.reason))
                    continue
                try:
                    parsed.append(parse(row.values))
                except (RowError, ValueError) as exc:
                    rejected.append(RejectedRow(source, row.line, str(exc)))
    finally:  # the shared times and numbers live as long as the rows that use them, not longer
        _time.cache_clear()
        _decimal.cache_clear()
    return parsed, rejected


def read_purchases(path: Path, *, aliases: Mapping[str, str] | None = None,
                   encoding: str = AUTO,
                   input_timezone: str | None = times.DEFAULT_INPUT_TIMEZONE,
                   ) -> tuple[list[Purchase], list[RejectedRow]]:
    def parse(row: Mapping[str, str]) -> Purchase:
        return Purchase(pharmacy_id=intern(text(row, "pharmacy_id")), item_code=intern(text(row, "item_code")),
                        quantity=number(row, "quantity", positive=True),
                        received_at=aware_time(row, "received_at", input_timezone),
                        supplier=intern((row.get("supplier") or "").strip()),
                        invoice_no=(row.get("invoice_no") or "").strip())

    return read_rows(path, PURCHASE_COLUMNS, parse, aliases=aliases, encoding=encoding)


def read_stock(path: Path, *, aliases: Mapping[str, str] | None = None,
               encoding: str = AUTO,
               input_timezone: str | None = times.DEFAULT_INPUT_TIMEZONE,
               ) -> tuple[list[StockCount], list[RejectedRow]]:
    def parse(row: Mapping[str, str]) -> StockCount:
        return StockCount(pharmacy_id=intern(text(row, "pharmacy_id")), item_code=intern(text(row, "item_code")),
                          quantity=number(row, "quantity"),
                          counted_at=aware_time(row, "counted_at", input_timezone))

    return read_rows(path, STOCK_COLUMNS, parse, aliases=aliases, encoding=encoding)


def location(row: Mapping[str, str]) -> Location | None:
    """The optional ``lat,lon`` of a pharmacies row: None when both are blank."""
    lat, lon = (row.get("lat") or "").strip(), (row.get("lon") or "").strip()
    if not lat and not lon:
        return None
    values = []
    for column, raw in (("lat", lat), ("lon", lon)):
        try:
            values.append(float(raw))
        except ValueError:
            raise RowError(column, "is not a number" if raw else "is empty", raw) from None
    try:
        return Location(*values)
    except ValueError:
        raise RowError("lat,lon", "is not a place on Earth") from None


def read_locations(path: Path, *, aliases: Mapping[str, str] | None = None,
                   encoding: str = AUTO,
                   input_timezone: str | None = None,  # (no times in it: the readers' signature)
                   ) -> tuple[dict[str, Location], list[RejectedRow]]:
    """``pharmacy_id -> lat,lon`` from a pharmacies file; rows without coordinates are skipped,
    rows with half of them or impossible ones are rejected."""
    def parse(row: Mapping[str, str]) -> tuple[str, Location] | None:
        where = location(row)
        return None if where is None else (text(row, "pharmacy_id"), where)

    parsed, rejected = read_rows(path, ("pharmacy_id",), parse, aliases=aliases, encoding=encoding)
    return dict(p for p in parsed if p is not None), rejected


def read_records(log: Path, *, purchases: Path | None = None, stock: Path | None = None,
                 pharmacies: Path | None = None, aliases: Mapping[str, str] | None = None,
                 encoding: str = AUTO, input_timezone: str | None = times.DEFAULT_INPUT_TIMEZONE,
                 ) -> tuple[Records, list[RejectedRow]]:
    """The records of an audit: the files given, else ``purchases.csv``, ``stock.csv`` and
    ``pharmacies.csv`` (or their .xlsx twins) beside the log when they exist."""
    rejected: list[RejectedRow] = []
    found: dict[str, object] = {}
    for name, given, default, reader in (
            ("purchases", purchases, PURCHASES_FILE, read_purchases),
            ("stock", stock, STOCK_FILE, read_stock),
            ("locations", pharmacies, PHARMACIES_FILE, read_locations)):
        path = given if given is not None else beside(log, default)
        if path is None:
            continue
        rows, bad = reader(Path(path), aliases=aliases, encoding=encoding, input_timezone=input_timezone)
        found[name] = rows
        rejected.extend(bad)
    return Records(purchases=tuple(found.get("purchases", ())), stock_counts=tuple(found.get("stock", ())),
                   locations=dict(found.get("locations", {}))), rejected
