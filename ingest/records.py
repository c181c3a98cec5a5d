"""Readers of the records beside a settlement log: ``purchases.csv`` (进货), ``stock.csv`` (盘点) and
``pharmacies.csv`` (name, district, optional ``lat,lon``); plus the ``trace_codes`` field of a line.

    purchases.csv  pharmacy_id,item_code,quantity,received_at,supplier,invoice_no
    stock.csv      pharmacy_id,item_code,quantity,counted_at

CSV (UTF-8 or GB18030) or .xlsx, headers in English or Chinese (``ingest.header_map``). Every field
gets the log's checks (``ingest.fields``: lengths and numeric precision of the columns that store
it, times within ``settled_at_min .. settled_at_max``, finite numbers). Each reader returns ``(rows,
rejected)``: a bad row is rejected with its file and line (sheet row) and the rest are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from sys import intern

from ingest.fields import (MAX_LENGTH, QUANTITY, IngestOptions, decimal, finite_float, optional, required, texts,
                           time_in_range)
from ingest.reasons import RowError
from ingest.tables import beside, parse_rows
from rxaudit.domain import RejectedRow
from rxaudit.records import Location, PharmacyEntry, Purchase, Records, StockCount

PURCHASE_COLUMNS = ("pharmacy_id", "item_code", "quantity", "received_at")
STOCK_COLUMNS = ("pharmacy_id", "item_code", "quantity", "counted_at")
PURCHASES_FILE, STOCK_FILE, PHARMACIES_FILE = "purchases.csv", "stock.csv", "pharmacies.csv"
TRACE_CODE_LENGTH = 20
_CODE = re.compile(r"[0-9]{20}")
_CODES = re.compile(r"[0-9]{20}(?:;[0-9]{20})*;?")


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


class _Shared:
    """Deliveries and counts repeat their times and quantities: one (immutable) object per text,
    for as long as the file's rows live."""

    def __init__(self, time_column: str, options: IngestOptions, *, positive: bool) -> None:
        self.time: Callable[[str], datetime] = lru_cache(maxsize=65536)(
            lambda raw: time_in_range(time_column, raw, options))
        self.quantity: Callable[[str], Decimal] = lru_cache(maxsize=65536)(
            lambda raw: decimal("quantity", raw, QUANTITY, positive=positive))


def read_purchases(path: Path, options: IngestOptions | None = None
                   ) -> tuple[list[Purchase], list[RejectedRow]]:
    options = options or IngestOptions()
    shared = _Shared("received_at", options, positive=True)
    what, when, billed = (texts(("pharmacy_id", True), ("item_code", True), ("quantity", True)),
                          texts(("received_at", True)), texts(("supplier", False), ("invoice_no", False)))

    def parse(row: Mapping[str, str]) -> Purchase:  # fields checked in this order: the first fault is told
        pharmacy_id, item_code, quantity = what(row)
        quantity = shared.quantity(quantity)
        received_at = shared.time(when(row)[0])
        supplier, invoice_no = billed(row)
        return Purchase(pharmacy_id=intern(pharmacy_id), item_code=intern(item_code), quantity=quantity,
                        received_at=received_at, supplier=intern(supplier), invoice_no=invoice_no)

    return parse_rows(path, PURCHASE_COLUMNS, parse, encoding=options.encoding, aliases=options.aliases)


def read_stock(path: Path, options: IngestOptions | None = None
               ) -> tuple[list[StockCount], list[RejectedRow]]:
    options = options or IngestOptions()
    shared = _Shared("counted_at", options, positive=False)
    what, when = texts(("pharmacy_id", True), ("item_code", True), ("quantity", True)), texts(("counted_at", True))

    def parse(row: Mapping[str, str]) -> StockCount:  # fields checked in this order
        pharmacy_id, item_code, quantity = what(row)
        quantity = shared.quantity(quantity)
        return StockCount(pharmacy_id=intern(pharmacy_id), item_code=intern(item_code), quantity=quantity,
                          counted_at=shared.time(when(row)[0]))

    return parse_rows(path, STOCK_COLUMNS, parse, encoding=options.encoding, aliases=options.aliases)


def location(row: Mapping[str, str]) -> Location | None:
    """The optional ``lat,lon`` of a pharmacies row: None when both are blank."""
    lat, lon = (row.get("lat") or "").strip(), (row.get("lon") or "").strip()
    if not lat and not lon:
        return None
    values = [finite_float(column, raw) for column, raw in (("lat", lat), ("lon", lon))]
    try:
        return Location(*values)
    except ValueError:
        raise RowError("lat,lon", "is not a place on Earth") from None


def _licensee(row: Mapping[str, str]) -> str:
    """The pharmacies file's ``licensee`` (经营者), stored as the registry's ``operator`` column (the
    log's own ``operator`` is the cashier: another header)."""
    value = optional(row, "licensee")
    if len(value) > MAX_LENGTH["operator"]:
        raise RowError("licensee", f"is longer than {MAX_LENGTH['operator']} characters")
    return value


def read_pharmacies(path: Path, options: IngestOptions | None = None
                    ) -> tuple[list[PharmacyEntry], list[RejectedRow]]:
    """The rows of a pharmacies file: ``pharmacy_id`` and, each optional, ``name``, ``district``,
    ``lat,lon`` (half of them, or an impossible place, rejects the row), ``licensee`` (经营者) and
    ``address`` (the last two shown in case files)."""
    options = options or IngestOptions()

    def parse(row: Mapping[str, str], line: int) -> PharmacyEntry:
        return PharmacyEntry(pharmacy_id=required(row, "pharmacy_id"), name=optional(row, "name"),
                             district=optional(row, "district"), location=location(row),
                             licensee=_licensee(row), address=optional(row, "address"), line=line)

    return parse_rows(path, ("pharmacy_id",), parse, encoding=options.encoding, aliases=options.aliases,
                      with_line=True)


def read_locations(path: Path, options: IngestOptions | None = None
                   ) -> tuple[dict[str, Location], list[RejectedRow]]:
    """``pharmacy_id -> lat,lon`` from a pharmacies file (rows without coordinates left out)."""
    entries, rejected = read_pharmacies(path, options)
    return located(entries), rejected


def located(entries: list[PharmacyEntry] | tuple[PharmacyEntry, ...]) -> dict[str, Location]:
    return {e.pharmacy_id: e.location for e in entries if e.location is not None}


def read_records(log: Path, *, purchases: Path | None = None, stock: Path | None = None,
                 pharmacies: Path | None = None, options: IngestOptions | None = None,
                 ) -> tuple[Records, list[RejectedRow]]:
    """The records of an audit: the files given, else ``purchases.csv``, ``stock.csv`` and
    ``pharmacies.csv`` (or their .xlsx twins) beside the log when they exist."""
    rejected: list[RejectedRow] = []
    found: dict[str, object] = {}
    names: dict[str, str] = {}
    for name, given, default, reader in (
            ("purchases", purchases, PURCHASES_FILE, read_purchases),
            ("stock", stock, STOCK_FILE, read_stock),
            ("pharmacies", pharmacies, PHARMACIES_FILE, read_pharmacies)):
        path = given if given is not None else beside(log, default)
        if path is None:
            continue
        rows, bad = reader(Path(path), options)
        found[name], names[name] = rows, Path(path).name
        rejected.extend(bad)
    entries = tuple(found.get("pharmacies", ()))
    return Records(purchases=tuple(found.get("purchases", ())), stock_counts=tuple(found.get("stock", ())),
                   locations=located(entries), pharmacies=entries,
                   pharmacies_file=names.get("pharmacies", "")), rejected
