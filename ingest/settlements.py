"""Settlement log readers: a bad row is rejected with its line number, it never stops the others.

``iter_settlements`` streams the log (one Settlement or RejectedRow per record, so rows read =
settlements + rejected); ``read_settlements`` reads it whole with ``settlement_items.csv`` and the
item catalogue. Every field is checked against what the database can hold (lengths, numeric
precision, no NUL or control characters) and ``settled_at`` against a plausible range, so a row
that would fail at the database is rejected here, with its line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from sys import intern
from typing import TypeVar

from ingest import times
from ingest.csv_reader import AUTO, CsvReject
from ingest.reasons import RowError, row_reason
from ingest.header_map import builtin_aliases, load_aliases
from ingest.records import trace_codes
from ingest.tables import beside, open_table
from rxaudit.cards import hash_card
from rxaudit.db.models import SettlementRow
from rxaudit.domain import RejectedRow, Settlement, SettlementItem
from rxaudit.records import SoldCodes

__all__ = ["IngestOptions", "RowError", "SettlementLog", "iter_settlements", "parse_decimal",
           "parse_rows", "parse_time", "read_items", "read_settlements"]

T = TypeVar("T")

SETTLEMENT_COLUMNS = ("settlement_id", "pharmacy_id", "counter_id", "settled_at", "card_id", "amount")
ITEM_COLUMNS = ("settlement_id", "item_code", "item_name", "quantity", "unit_price")
ITEMS_FILE = "settlement_items.csv"
_COLUMNS = SettlementRow.__table__.c
MAX_LENGTH = {name: _COLUMNS[name].type.length for name in ("settlement_id", "pharmacy_id", "counter_id")}
AMOUNT_PRECISION: int = _COLUMNS["amount"].type.precision
AMOUNT_SCALE: int = _COLUMNS["amount"].type.scale


@dataclass(frozen=True)
class IngestOptions:
    """How input files are read: their encoding and the accepted ``settled_at`` range."""

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


@dataclass(frozen=True)
class SettlementLog:
    settlements: tuple[Settlement, ...]
    rejected: tuple[RejectedRow, ...]
    rows_read: int


def parse_time(text: str, options: IngestOptions | None = None) -> datetime:
    options = options or IngestOptions()
    value = times.parse_time(text, "settled_at", times.zone(options.input_timezone))
    if not options.settled_at_min <= value < options.settled_at_max:
        raise RowError("settled_at", f"is outside {options.settled_at_min:%Y-%m-%d} .. "
                       f"{options.settled_at_max:%Y-%m-%d} (settings settled_at_min, settled_at_max)")
    return value


def parse_decimal(name: str, text: str, *, precision: int | None = None,
                  scale: int | None = None) -> Decimal:
    """A non-negative finite number; with ``precision``/``scale``, one the NUMERIC column holds."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise RowError(name, "is not a number", text) from None
    if not value.is_finite() or value < 0:
        raise RowError(name, "must be a non-negative number", text)
    if precision is not None and scale is not None:
        if value >= Decimal(10) ** (precision - scale):
            raise RowError(name, f"is too large (at most {precision - scale} digits before the point)")
        if value != value.quantize(Decimal(1).scaleb(-scale)):
            raise RowError(name, f"has more than {scale} decimal places")
    return value


def _field(row: dict, name: str, max_length: int | None = None) -> str:
    value = row.get(name)
    if value is None:
        raise RowError(None, f"missing field {name}")
    value = value.strip()
    if not value:
        raise RowError(None, f"empty field {name}")
    if max_length is not None and len(value) > max_length:
        raise RowError(name, f"is longer than {max_length} characters")
    return value


def _reason(exc: Exception) -> str:
    """A RowError's own words; anything else by its type only (its message may quote a value)."""
    if isinstance(exc, RowError):
        return str(exc)
    return row_reason(None, f"row cannot be used ({type(exc).__name__})")


def _reject(source: str, bad: CsvReject) -> RejectedRow:
    span = f" (lines {bad.line}-{bad.end_line})" if bad.end_line != bad.line else ""
    return RejectedRow(source=source, line=bad.line, reason=bad.reason + span)


def parse_rows(path: Path, required: tuple[str, ...], parse: Callable[[dict], T], *,
               encoding: str = AUTO, aliases: Mapping[str, str] | None = None
               ) -> tuple[list[T], list[RejectedRow], list[str]]:
    """Each row through ``parse``; a row it rejects (RowError, ValueError) is reported with its line
    number and the rest go on. Returns (parsed, rejected, header)."""
    parsed: list[T] = []
    rejected: list[RejectedRow] = []
    aliases = builtin_aliases() if aliases is None else aliases  # CSV or .xlsx, Chinese headers too
    with open_table(path, required=required, encoding=encoding, aliases=aliases) as rows:
        for row in rows:
            if isinstance(row, CsvReject):
                rejected.append(_reject(path.name, row))
                continue
            try:
                parsed.append(parse(row.values))
            except (ValueError, ArithmeticError) as exc:
                rejected.append(RejectedRow(source=path.name, line=row.line, reason=_reason(exc)))
        header = list(rows.header)
    return parsed, rejected, header


def read_items(path: Path, options: IngestOptions | None = None, *, sold_codes: SoldCodes | None = None
               ) -> tuple[dict[str, list[SettlementItem]], list[RejectedRow]]:
    """``settlement_id -> lines``. With ``sold_codes``, each line's traceability codes go there
    (compact) instead of onto the line, and equal lines share one SettlementItem."""
    # millions of lines repeat a few thousand codes, names, quantities and prices: share one object
    # of each (immutable) instead of holding millions of copies
    number = lru_cache(maxsize=16384)(parse_decimal)

    @lru_cache(maxsize=65536)  # keyed on the texts: "1" and "1.0" are equal Decimals, not equal lines
    def shared_item(item_code: str, item_name: str, quantity: str, unit_price: str) -> SettlementItem:
        return SettlementItem(item_code=item_code, item_name=item_name, quantity=number("quantity", quantity),
                              unit_price=number("unit_price", unit_price))

    items: dict[str, list[SettlementItem]] = defaultdict(list)

    def parse(row: dict) -> None:  # straight into ``items``: no list of (id, item) pairs held meanwhile
        sid = _field(row, "settlement_id", MAX_LENGTH["settlement_id"])
        item_code = intern(_field(row, "item_code"))
        item_name = intern((row.get("item_name") or "").strip())
        quantity, unit_price = _field(row, "quantity"), _field(row, "unit_price")
        if sold_codes is None:
            items[sid].append(SettlementItem(
                item_code=item_code, item_name=item_name, quantity=number("quantity", quantity),
                unit_price=number("unit_price", unit_price),
                trace_codes=trace_codes(row.get("trace_codes"))))  # optional column (ingest.records)
            return
        item = shared_item(item_code, item_name, quantity, unit_price)
        codes = trace_codes(row.get("trace_codes"))
        lines = items[sid]
        lines.append(item)
        sold_codes.add(sid, len(lines), item_code, item.quantity, codes)

    options = options or IngestOptions()
    _, rejected, _ = parse_rows(path, ITEM_COLUMNS, parse, encoding=options.encoding, aliases=options.aliases)
    return items, rejected


def iter_settlements(path: Path, card_key: bytes, options: IngestOptions | None = None, *,
                     items: dict[str, list[SettlementItem]] | None = None) -> Iterator[Settlement | RejectedRow]:
    """Stream ``path``: exactly one Settlement or RejectedRow per record of the file, in file order.
    Opening the file and reading its header happen on the first ``next()``. ``items``: each
    settlement's lines, taken out of it (popped) as the settlement is made.
    Amounts, card hashes and ``extra`` columns repeat across a month: equal ones share one object."""
    options = options or IngestOptions()
    path = Path(path)
    seen_ids: dict[str, int] = {}
    amount = lru_cache(maxsize=16384)(parse_decimal)
    shared_extra = lru_cache(maxsize=4096)(lambda values: dict(values))
    with open_table(path, required=SETTLEMENT_COLUMNS, encoding=options.encoding,
                    aliases=options.aliases) as rows:
        extra_cols = [h for h in rows.header if h not in SETTLEMENT_COLUMNS]
        for row in rows:
            if isinstance(row, CsvReject):
                yield _reject(path.name, row)
                continue
            values, line = row.values, row.line
            try:
                sid = _field(values, "settlement_id", MAX_LENGTH["settlement_id"])
                if sid in seen_ids:
                    raise RowError("settlement_id", f"repeats line {seen_ids[sid]}")
                settlement = Settlement(
                    settlement_id=sid,
                    pharmacy_id=intern(_field(values, "pharmacy_id", MAX_LENGTH["pharmacy_id"])),
                    counter_id=intern(_field(values, "counter_id", MAX_LENGTH["counter_id"])),
                    settled_at=parse_time(_field(values, "settled_at"), options),
                    card_hash=intern(hash_card(_field(values, "card_id"), card_key)),
                    amount=amount("amount", _field(values, "amount"),
                                  precision=AMOUNT_PRECISION, scale=AMOUNT_SCALE),
                    items=() if items is None else tuple(items.pop(sid, ())),
                    extra=shared_extra(tuple((c, values[c]) for c in extra_cols)),
                    line=line,
                )
            except (ValueError, ArithmeticError) as exc:
                yield RejectedRow(source=path.name, line=line, reason=_reason(exc))
                continue
            seen_ids[sid] = line
            yield settlement


def read_settlements(path: Path, card_key: bytes, catalogue: Path | None = None, *,
                     options: IngestOptions | None = None, sold_codes: SoldCodes | None = None) -> SettlementLog:
    """Read ``settlements.csv`` (and ``settlement_items.csv`` beside it when present), and give each
    billed item its category from ``catalogue`` (default: ``item_catalogue.csv`` beside the log).
    ``sold_codes``: where the lines' traceability codes go (compact), instead of onto the lines.
    The items are read first and each settlement is made with its lines, so no settlement exists
    twice."""
    path = Path(path)
    options = options or IngestOptions()
    items_path = beside(path, ITEMS_FILE)  # settlement_items.csv, or .xlsx
    items, bad_items = (read_items(items_path, options, sold_codes=sold_codes) if items_path is not None
                        else (None, []))
    settlements: list[Settlement] = []
    rejected: list[RejectedRow] = []
    for item in iter_settlements(path, card_key, options, items=items):
        (settlements if isinstance(item, Settlement) else rejected).append(item)
    rows_read = len(settlements) + len(rejected)
    rejected.extend(bad_items)
    if items and sold_codes is not None:  # lines left over: of rows rejected, or of no row at all
        sold_codes.drop(set(items))
    del items
    from ingest.catalogue import CATALOGUE_FILE, categorise, read_catalogue

    catalogue_path = catalogue if catalogue is not None else path.with_name(CATALOGUE_FILE)
    if catalogue is not None or catalogue_path.exists():
        known, bad_rows = read_catalogue(catalogue_path, encoding=options.encoding)
        rejected.extend(bad_rows)
        settlements = categorise(settlements, known)
    return SettlementLog(tuple(settlements), tuple(rejected), rows_read=rows_read)
