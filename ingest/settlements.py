"""Settlement log readers. Each returns ``(rows, rejected)``: a bad row never stops the others."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from rxaudit.cards import hash_card
from rxaudit.domain import RejectedRow, Settlement, SettlementItem
from rxaudit.errors import InputError

T = TypeVar("T")

SETTLEMENT_COLUMNS = ("settlement_id", "pharmacy_id", "counter_id", "settled_at", "card_id", "amount")
ITEM_COLUMNS = ("settlement_id", "item_code", "item_name", "quantity", "unit_price")
ITEMS_FILE = "settlement_items.csv"


@dataclass(frozen=True)
class SettlementLog:
    settlements: tuple[Settlement, ...]
    rejected: tuple[RejectedRow, ...]
    rows_read: int


class RowError(ValueError):
    """A row cannot be parsed; the message says why."""


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise RowError(f"settled_at {text!r} is not ISO 8601") from exc
    if value.tzinfo is None:
        raise RowError(f"settled_at {text!r} has no UTC offset")
    return value


def parse_decimal(name: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise RowError(f"{name} {text!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise RowError(f"{name} {text!r} must be a non-negative number")
    return value


def _open_rows(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, dict]]]:
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    with fh:
        try:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(f"{path}: header lacks column(s) {', '.join(missing)}")
            reader.fieldnames = header
            rows = [(reader.line_num, row) for row in reader]
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    return header, rows


def _field(row: dict, name: str) -> str:
    value = row.get(name)
    if value is None:
        raise RowError(f"missing field {name}")
    value = value.strip()
    if not value:
        raise RowError(f"empty field {name}")
    return value


def parse_rows(path: Path, required: tuple[str, ...],
               parse: Callable[[dict], T]) -> tuple[list[T], list[RejectedRow], list[str]]:
    """Each row through ``parse``; a row it rejects (RowError, ValueError) is reported with its line
    number and the rest go on. Returns (parsed, rejected, header)."""
    header, rows = _open_rows(path, required)
    parsed: list[T] = []
    rejected: list[RejectedRow] = []
    for line, row in rows:
        try:
            if None in row:
                raise RowError("more fields than the header names")
            parsed.append(parse(row))
        except (RowError, ValueError) as exc:
            rejected.append(RejectedRow(source=path.name, line=line, reason=str(exc)))
    return parsed, rejected, header


def read_items(path: Path) -> tuple[dict[str, list[SettlementItem]], list[RejectedRow]]:
    def parse(row: dict) -> tuple[str, SettlementItem]:
        return _field(row, "settlement_id"), SettlementItem(
            item_code=_field(row, "item_code"),
            item_name=(row.get("item_name") or "").strip(),
            quantity=parse_decimal("quantity", _field(row, "quantity")),
            unit_price=parse_decimal("unit_price", _field(row, "unit_price")),
        )

    parsed, rejected, _ = parse_rows(path, ITEM_COLUMNS, parse)
    items: dict[str, list[SettlementItem]] = defaultdict(list)
    for settlement_id, item in parsed:
        items[settlement_id].append(item)
    return items, rejected


def read_settlements(path: Path, card_key: bytes, catalogue: Path | None = None) -> SettlementLog:
    """Read ``settlements.csv`` (and ``settlement_items.csv`` beside it when present), and give each
    billed item its category from ``catalogue`` (default: ``item_catalogue.csv`` beside the log)."""
    header, rows = _open_rows(path, SETTLEMENT_COLUMNS)
    extra_cols = [h for h in header if h not in SETTLEMENT_COLUMNS]
    settlements: list[Settlement] = []
    rejected: list[RejectedRow] = []
    seen_ids: dict[str, int] = {}
    for line, row in rows:
        try:
            if None in row:
                raise RowError("more fields than the header names")
            sid = _field(row, "settlement_id")
            if sid in seen_ids:
                raise RowError(f"settlement_id {sid} repeats line {seen_ids[sid]}")
            settlement = Settlement(
                settlement_id=sid,
                pharmacy_id=_field(row, "pharmacy_id"),
                counter_id=_field(row, "counter_id"),
                settled_at=parse_time(_field(row, "settled_at")),
                card_hash=hash_card(_field(row, "card_id"), card_key),
                amount=parse_decimal("amount", _field(row, "amount")),
                extra={c: (row.get(c) or "") for c in extra_cols},
                line=line,
            )
        except (RowError, ValueError) as exc:
            rejected.append(RejectedRow(source=path.name, line=line, reason=str(exc)))
            continue
        seen_ids[sid] = line
        settlements.append(settlement)

    items_path = path.with_name(ITEMS_FILE)
    if items_path.exists():
        items, bad_items = read_items(items_path)
        rejected.extend(bad_items)
        settlements = [
            replace(s, items=tuple(items.get(s.settlement_id, ()))) for s in settlements
        ]
    from ingest.catalogue import CATALOGUE_FILE, categorise, read_catalogue

    catalogue_path = catalogue if catalogue is not None else path.with_name(CATALOGUE_FILE)
    if catalogue is not None or catalogue_path.exists():
        known, bad_rows = read_catalogue(catalogue_path)
        rejected.extend(bad_rows)
        settlements = categorise(settlements, known)
    return SettlementLog(tuple(settlements), tuple(rejected), rows_read=len(rows))
