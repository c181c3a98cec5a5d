"""Live settlement objects: good ones become Settlements (card hashed), a bad one names its field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.fields import IngestOptions
from ingest.live_records import EXTRA_MAX, LINES_MAX, read_records
from rxaudit.cards import hash_card

KEY = b"test-card-hash-key-0123456789"
CARD = "6222021234567890"
CODE = "8" * 20
GOOD = {"settlement_id": "S1", "pharmacy_id": "P1", "counter_id": "C1", "settled_at": "2026-12-07T10:00:00+08:00",
        "card_id": CARD, "amount": "12.50",
        "items": [{"item_code": "I1", "item_name": "阿莫西林", "quantity": 2, "unit_price": "6.25",
                   "trace_codes": [CODE]}]}


def one(record):
    settlements, errors = read_records([record], KEY, IngestOptions())
    return settlements, errors


GOOD_CASES = {
    "strings": (GOOD, {"amount": Decimal("12.50")}),
    "amount as a JSON number": ({**GOOD, "amount": 12.5}, {"amount": Decimal("12.5")}),
    "integer ids": ({**GOOD, "settlement_id": 1001, "card_id": 6222021234567890}, {"settlement_id": "1001"}),
    "local time without offset": ({**GOOD, "settled_at": "2026-12-07 10:00:00"},
                                  {"settled_at": datetime(2026, 12, 7, 2, 0, tzinfo=UTC)}),
    "no items": ({k: v for k, v in GOOD.items() if k != "items"}, {"items": ()}),
    "trace codes as the log's text": ({**GOOD, "items": [{**GOOD["items"][0], "trace_codes": f"{CODE};{CODE};"}]},
                                      {}),
    "extra fields kept as text": ({**GOOD, "operator": "王", "shift": 2, "paid": True, "note": None},
                                  {"extra": {"operator": "王", "shift": "2", "paid": "true", "note": ""}}),
}


@pytest.mark.parametrize("record, expected", GOOD_CASES.values(), ids=GOOD_CASES.keys())
def test_good_records(record, expected):
    (s,), errors = one(record)
    assert errors == []
    assert s.card_hash == hash_card(CARD, KEY) and CARD not in repr(s)
    assert s.line == 0 and s.settled_at == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    for name, value in expected.items():
        assert getattr(s, name) == value
    if s.items:
        assert s.items[0].quantity == 2 and s.items[0].unit_price == Decimal("6.25") and CODE in s.items[0].trace_codes


BAD_CASES = {
    "not an object": (["S1"], None),
    "missing settlement_id": ({k: v for k, v in GOOD.items() if k != "settlement_id"}, "settlement_id"),
    "empty pharmacy_id": ({**GOOD, "pharmacy_id": "  "}, "pharmacy_id"),
    "long counter_id": ({**GOOD, "counter_id": "C" * 65}, "counter_id"),
    "control character in an id": ({**GOOD, "settlement_id": "S\x001"}, "settlement_id"),
    "id as an object": ({**GOOD, "settlement_id": {"a": 1}}, "settlement_id"),
    "time not ISO": ({**GOOD, "settled_at": "yesterday"}, "settled_at"),
    "time as a number": ({**GOOD, "settled_at": 1765072800}, "settled_at"),
    "time out of range": ({**GOOD, "settled_at": "1999-01-01T00:00:00Z"}, "settled_at"),
    "missing card": ({k: v for k, v in GOOD.items() if k != "card_id"}, "card_id"),
    "blank card": ({**GOOD, "card_id": " "}, "card_id"),
    "amount not a number": ({**GOOD, "amount": "12,50"}, "amount"),
    "negative amount": ({**GOOD, "amount": -1}, "amount"),
    "amount too precise": ({**GOOD, "amount": "1.005"}, "amount"),
    "amount too large": ({**GOOD, "amount": 1e12}, "amount"),
    "amount boolean": ({**GOOD, "amount": True}, "amount"),
    "items not a list": ({**GOOD, "items": {"item_code": "I1"}}, "items"),
    "too many lines": ({**GOOD, "items": [GOOD["items"][0]] * (LINES_MAX + 1)}, "items"),
    "line not an object": ({**GOOD, "items": ["I1"]}, "items[0]"),
    "line without code": ({**GOOD, "items": [{"quantity": 1, "unit_price": 1}]}, "items[0].item_code"),
    "bad quantity": ({**GOOD, "items": [GOOD["items"][0], {**GOOD["items"][0], "quantity": "two"}]},
                     "items[1].quantity"),
    "missing unit price": ({**GOOD, "items": [{"item_code": "I1", "quantity": 1}]}, "items[0].unit_price"),
    "short trace code": ({**GOOD, "items": [{**GOOD["items"][0], "trace_codes": ["123"]}]}, "items[0].trace_codes"),
    "trace codes as a number": ({**GOOD, "items": [{**GOOD["items"][0], "trace_codes": 5}]}, "items[0].trace_codes"),
    "nested extra": ({**GOOD, "operator": {"name": "x"}}, "operator"),
    "too many extras": ({**GOOD, **{f"x{k}": k for k in range(EXTRA_MAX + 1)}}, None),
}


@pytest.mark.parametrize("record, field", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_bad_records_name_their_field_never_the_card(record, field):
    settlements, (error,) = one(record)
    assert settlements == []
    assert (error.index, error.field) == (0, field)
    assert field is None or error.reason.startswith(field)
    assert CARD not in error.reason and "1234" not in error.reason


def test_the_others_are_read_with_their_index():
    records = [GOOD, {**GOOD, "settlement_id": "S2", "amount": "x"}, {**GOOD, "settlement_id": "S3"}]
    settlements, errors = read_records(records, KEY, IngestOptions())
    assert [(s.settlement_id, s.line) for s in settlements] == [("S1", 0), ("S3", 2)]
    assert [(e.index, e.field) for e in errors] == [(1, "amount")]
