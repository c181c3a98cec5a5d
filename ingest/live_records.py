"""Settlements sent live (``POST /api/v1/settlements``, a JetStream message): JSON objects with the
log's field names, read into :class:`~rxaudit.domain.Settlement` with the log's own field checks
(:mod:`ingest.fields`) and the card id keyed-hashed here, at the door.

One object::

    {"settlement_id": "S1", "pharmacy_id": "P1", "counter_id": "C1",
     "settled_at": "2026-12-07T10:00:00+08:00", "card_id": "...", "amount": "12.50",
     "items": [{"item_code": "I1", "item_name": "...", "quantity": 1, "unit_price": "12.50",
                "trace_codes": ["8...20 digits"]}],
     "operator": "...", ...}

Ids and the card id are strings (an integer is taken as its digits); amounts, quantities and prices
are strings or JSON numbers; ``settled_at`` is ISO 8601 (without an offset: ``input_timezone``);
``trace_codes`` a list of 20-digit codes or the log's ``;``-separated text. Any other field is kept in
``extra`` as text (a string, number, boolean or null; at most :data:`EXTRA_MAX` of them). A bad
object is a :class:`RecordError` naming its index and field (``items[2].quantity``), never the value;
the others are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ingest.fields import AMOUNT, LINE_QUANTITY, MAX_LENGTH, UNIT_PRICE, IngestOptions, decimal, time_in_range
from ingest.reasons import RowError
from ingest.records import trace_codes
from rxaudit.cards import hash_card
from rxaudit.domain import Settlement, SettlementItem

FIELDS = ("settlement_id", "pharmacy_id", "counter_id", "settled_at", "card_id", "amount")
ITEM_FIELDS = ("item_code", "item_name", "quantity", "unit_price", "trace_codes")
LINES_MAX = 500  # item lines of one settlement
EXTRA_MAX = 32  # extra fields of one settlement
EXTRA_NAME_MAX = 64  # characters of an extra field's name
TEXT_MAX = 1024  # characters of an item name or an extra field's value


@dataclass(frozen=True, slots=True)
class RecordError:
    """Why the record at ``index`` was not taken: ``field`` (None: the record as a whole) and the
    reason, which names the field and at most shows a value's shape (:func:`ingest.reasons.mask`)."""

    index: int
    field: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


def read_records(values: Sequence[Any], card_key: bytes, options: IngestOptions
                 ) -> tuple[list[Settlement], list[RecordError]]:
    """Each of ``values`` as a Settlement (its ``line`` is its index in ``values``) or a RecordError."""
    settlements: list[Settlement] = []
    errors: list[RecordError] = []
    for index, value in enumerate(values):
        try:
            settlements.append(read_record(value, card_key, options, index=index))
        except RowError as exc:
            errors.append(RecordError(index, exc.column, str(exc)))
        except (ValueError, ArithmeticError) as exc:  # a domain check: its message may quote a value
            errors.append(RecordError(index, None, f"record cannot be used ({type(exc).__name__})"))
    return settlements, errors


def read_record(value: Any, card_key: bytes, options: IngestOptions, *, index: int = 0) -> Settlement:
    """One JSON object as a Settlement; a RowError names the first bad field."""
    if not isinstance(value, Mapping):
        raise RowError(None, "record must be a JSON object")
    settlement_id = _identifier(value, "settlement_id")
    pharmacy_id = _identifier(value, "pharmacy_id")
    counter_id = _identifier(value, "counter_id")
    settled_at = value.get("settled_at")
    if not isinstance(settled_at, str) or not settled_at.strip():
        raise RowError("settled_at", "is missing" if settled_at is None else "must be an ISO 8601 string")
    when = time_in_range("settled_at", settled_at, options)
    card_id = _text(value, "card_id", limit=None)
    if not card_id:
        raise RowError("card_id", "is empty")
    amount = decimal("amount", _number(value, "amount"), AMOUNT)
    return Settlement(settlement_id=settlement_id, pharmacy_id=pharmacy_id, counter_id=counter_id,
                      settled_at=when, card_hash=hash_card(card_id, card_key), amount=amount,
                      items=_items(value.get("items")), extra=_extra(value), line=index)


def _text(obj: Mapping[str, Any], name: str, *, column: str | None = None, limit: int | None,
          required: bool = True) -> str:
    """A string field (an integer taken as its digits), stripped, without control characters."""
    column = column or name
    raw = obj.get(name)
    if raw is None:
        if required:
            raise RowError(column, "is missing")
        return ""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise RowError(column, "must be a string")
    text = raw.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise RowError(column, "holds a control character")
    if limit is not None and len(text) > limit:
        raise RowError(column, f"is longer than {limit} characters")
    return text


def _identifier(obj: Mapping[str, Any], name: str) -> str:
    text = _text(obj, name, limit=MAX_LENGTH[name])
    if not text:
        raise RowError(name, "is empty")
    return text


def _number(obj: Mapping[str, Any], name: str, column: str | None = None) -> str:
    """A number's text: a JSON number (its shortest decimal form) or a string."""
    column = column or name
    raw = obj.get(name)
    if raw is None:
        raise RowError(column, "is missing")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise RowError(column, "must be a number")
    return repr(raw) if isinstance(raw, float) else str(raw)


def _items(raw: Any) -> tuple[SettlementItem, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RowError("items", "must be a list of item lines")
    if len(raw) > LINES_MAX:
        raise RowError("items", f"holds more than {LINES_MAX} lines")
    return tuple(_item(line, k) for k, line in enumerate(raw))


def _item(line: Any, k: int) -> SettlementItem:
    where = f"items[{k}]"
    if not isinstance(line, Mapping):
        raise RowError(where, "must be a JSON object")
    code = _text(line, "item_code", column=f"{where}.item_code", limit=MAX_LENGTH["item_code"])
    if not code:
        raise RowError(f"{where}.item_code", "is empty")
    name = _text(line, "item_name", column=f"{where}.item_name", limit=TEXT_MAX, required=False)
    quantity = decimal(f"{where}.quantity", _number(line, "quantity", f"{where}.quantity"), LINE_QUANTITY)
    price = decimal(f"{where}.unit_price", _number(line, "unit_price", f"{where}.unit_price"), UNIT_PRICE)
    codes = line.get("trace_codes")
    if isinstance(codes, list):
        if not all(isinstance(c, str) for c in codes):
            raise RowError(f"{where}.trace_codes", "must be a list of strings")
        codes = ";".join(codes)
    elif codes is not None and not isinstance(codes, str):
        raise RowError(f"{where}.trace_codes", "must be a list of codes or ';'-separated text")
    return SettlementItem(item_code=code, item_name=name, quantity=quantity, unit_price=price,
                          trace_codes=trace_codes(codes, f"{where}.trace_codes"))


def _extra(obj: Mapping[str, Any]) -> dict[str, str]:
    names = [name for name in obj if name not in FIELDS and name != "items"]
    if len(names) > EXTRA_MAX:
        raise RowError(None, f"more than {EXTRA_MAX} extra fields")
    extra: dict[str, str] = {}
    for name in names:
        if not name or len(name) > EXTRA_NAME_MAX or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise RowError(None, f"an extra field's name must be 1 to {EXTRA_NAME_MAX} printable characters")
        raw = obj[name]
        if raw is None:
            extra[name] = ""
        elif isinstance(raw, bool):
            extra[name] = "true" if raw else "false"
        elif isinstance(raw, int | float):
            extra[name] = repr(raw) if isinstance(raw, float) else str(raw)
        elif isinstance(raw, str):
            if len(raw) > TEXT_MAX or "\x00" in raw:
                raise RowError(name, f"must be at most {TEXT_MAX} characters, without NUL")
            extra[name] = raw
        else:
            raise RowError(name, "must be a string, number, boolean or null")
    return extra
