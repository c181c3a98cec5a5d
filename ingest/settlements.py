"""Settlement log readers: a bad row is rejected with its line number, it never stops the others.

``iter_settlements`` streams the log (one Settlement or RejectedRow per record, so rows read =
settlements + rejected); ``read_settlements`` reads it whole with ``settlement_items.csv`` and the
item catalogue. Every field is checked against what the database can hold (lengths, numeric
precision, no NUL or control characters) and ``settled_at`` against a plausible range, so a row
that would fail at the database is rejected here, with its line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from sys import intern

from ingest.csv_reader import CsvReject
from ingest.fields import (AMOUNT, LINE_QUANTITY, UNIT_PRICE, IngestOptions, decimal, required, texts,
                           time_in_range)
from ingest.reasons import RowError, reason_of
from ingest.records import trace_codes
from ingest.tables import beside, open_table, parse_rows, rejected_row
from rxaudit.cards import hash_card
from rxaudit.domain import RejectedRow, Settlement, SettlementItem
from rxaudit.records import SoldCodes

__all__ = ["IngestOptions", "RowError", "SettlementLog", "iter_settlements", "read_items", "read_settlements"]

SETTLEMENT_COLUMNS = ("settlement_id", "pharmacy_id", "counter_id", "settled_at", "card_id", "amount")
ITEM_COLUMNS = ("settlement_id", "item_code", "item_name", "quantity", "unit_price")
ITEMS_FILE = "settlement_items.csv"


@dataclass(frozen=True)
class SettlementLog:
    settlements: tuple[Settlement, ...]
    rejected: tuple[RejectedRow, ...]
    rows_read: int


def read_items(path: Path, options: IngestOptions | None = None, *, sold_codes: SoldCodes | None = None,
               bad_lines: dict[str, RejectedRow] | None = None
               ) -> tuple[dict[str, list[SettlementItem]], list[RejectedRow]]:
    """``settlement_id -> lines``. With ``sold_codes``, each line's traceability codes go there
    (compact) instead of onto the line, and equal lines share one SettlementItem. ``bad_lines``
    gets, for each settlement id with a rejected line, the first such line (when its
    ``settlement_id`` field could be read): that settlement's bill is incomplete."""
    # millions of lines repeat a few thousand codes, names, quantities and prices: share one object
    # of each (immutable) instead of holding millions of copies
    quantity_of = lru_cache(maxsize=16384)(lambda text: decimal("quantity", text, LINE_QUANTITY))
    price_of = lru_cache(maxsize=16384)(lambda text: decimal("unit_price", text, UNIT_PRICE))

    @lru_cache(maxsize=65536)  # keyed on the texts: "1" and "1.0" are equal Decimals, not equal lines
    def shared_item(item_code: str, item_name: str, quantity: str, unit_price: str) -> SettlementItem:
        return SettlementItem(item_code=item_code, item_name=item_name, quantity=quantity_of(quantity),
                              unit_price=price_of(unit_price))

    items: dict[str, list[SettlementItem]] = defaultdict(list)

    line_fields = texts(("settlement_id", True), ("item_code", True), ("item_name", False), ("quantity", True),
                        ("unit_price", True))

    def parse(row: dict) -> None:  # straight into ``items``: no list of (id, item) pairs held meanwhile
        sid, item_code, item_name, quantity, unit_price = line_fields(row)
        item_code, item_name = intern(item_code), intern(item_name)
        if sold_codes is None:
            items[sid].append(SettlementItem(
                item_code=item_code, item_name=item_name, quantity=quantity_of(quantity),
                unit_price=price_of(unit_price),
                trace_codes=trace_codes(row.get("trace_codes"))))  # optional column (ingest.records)
            return
        item = shared_item(item_code, item_name, quantity, unit_price)
        codes = trace_codes(row.get("trace_codes"))
        lines = items[sid]
        lines.append(item)
        sold_codes.add(sid, len(lines), item_code, item.quantity, codes)

    def note_bad_line(bad: RejectedRow, fields: Mapping[str, str]) -> None:
        sid = (fields.get("settlement_id") or "").strip()
        if sid and bad_lines is not None:
            bad_lines.setdefault(sid, bad)

    options = options or IngestOptions()
    _, rejected = parse_rows(path, ITEM_COLUMNS, parse, encoding=options.encoding, aliases=options.aliases,
                             on_reject=note_bad_line)
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
    amount = lru_cache(maxsize=16384)(lambda text: decimal("amount", text, AMOUNT))
    card_hash = lru_cache(maxsize=65536)(lambda card_id: intern(hash_card(card_id, card_key)))  # cards recur
    where = texts(("pharmacy_id", True), ("counter_id", True), ("settled_at", True))
    who = texts(("card_id", True), ("amount", True))
    shared_extra = lru_cache(maxsize=4096)(lambda values: dict(values))
    with open_table(path, required=SETTLEMENT_COLUMNS, encoding=options.encoding,
                    aliases=options.aliases) as rows:
        extra_cols = [h for h in rows.header if h not in SETTLEMENT_COLUMNS]
        for row in rows:
            if isinstance(row, CsvReject):
                yield rejected_row(path.name, row)
                continue
            values, line = row.values, row.line
            try:
                sid = required(values, "settlement_id")
                if sid in seen_ids:
                    raise RowError("settlement_id", f"repeats line {seen_ids[sid]}")
                pharmacy_id, counter_id, settled_at = where(values)
                settled_at = time_in_range("settled_at", settled_at, options)
                card_id, amount_text = who(values)
                settlement = Settlement(
                    settlement_id=sid,
                    pharmacy_id=intern(pharmacy_id),
                    counter_id=intern(counter_id),
                    settled_at=settled_at,
                    card_hash=card_hash(card_id),
                    amount=amount(amount_text),
                    items=() if items is None else tuple(items.pop(sid, ())),
                    extra=shared_extra(tuple((c, values[c]) for c in extra_cols)),
                    line=line,
                )
            except (ValueError, ArithmeticError) as exc:
                yield RejectedRow(source=path.name, line=line, reason=reason_of(exc))
                continue
            seen_ids[sid] = line
            yield settlement


def _incomplete_bill(path: Path, settlement: Settlement, bad_line: RejectedRow) -> RejectedRow:
    return RejectedRow(source=path.name, line=settlement.line, reason=(
        f"settlement_id not audited: its item line {bad_line.line} in {bad_line.source} was rejected "
        "(correct that line and audit the export again)"))


def read_settlements(path: Path, card_key: bytes, catalogue: Path | None = None, *,
                     options: IngestOptions | None = None, sold_codes: SoldCodes | None = None) -> SettlementLog:
    """Read ``settlements.csv`` (and ``settlement_items.csv`` beside it when present), and give each
    billed item its category from ``catalogue`` (default: ``item_catalogue.csv`` beside the log).
    ``sold_codes``: where the lines' traceability codes go (compact), instead of onto the lines.
    The items are read first and each settlement is made with its lines, so no settlement exists
    twice. A settlement with a rejected item line is rejected too (its bill would be incomplete,
    and stored so it would make the corrected export a conflict); both rows are listed."""
    path = Path(path)
    options = options or IngestOptions()
    items_path = beside(path, ITEMS_FILE)  # settlement_items.csv, or .xlsx
    bad_lines: dict[str, RejectedRow] = {}
    items, bad_items = (read_items(items_path, options, sold_codes=sold_codes, bad_lines=bad_lines)
                        if items_path is not None else (None, []))
    settlements: list[Settlement] = []
    rejected: list[RejectedRow] = []
    incomplete: set[str] = set()
    for item in iter_settlements(path, card_key, options, items=items):
        if isinstance(item, Settlement) and item.settlement_id in bad_lines:
            incomplete.add(item.settlement_id)
            item = _incomplete_bill(path, item, bad_lines[item.settlement_id])
        (settlements if isinstance(item, Settlement) else rejected).append(item)
    rows_read = len(settlements) + len(rejected)
    rejected.extend(bad_items)
    if (items or incomplete) and sold_codes is not None:  # lines of rows rejected, or of no row at all
        sold_codes.drop(set(items or ()) | incomplete)
    del items
    from ingest.catalogue import CATALOGUE_FILE, categorise, read_catalogue

    catalogue_path = catalogue if catalogue is not None else path.with_name(CATALOGUE_FILE)
    if catalogue is not None or catalogue_path.exists():
        known, bad_rows = read_catalogue(catalogue_path, encoding=options.encoding)
        rejected.extend(bad_rows)
        settlements = categorise(settlements, known)
    return SettlementLog(tuple(settlements), tuple(rejected), rows_read=rows_read)
