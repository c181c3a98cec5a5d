"""The one place for field limits: read from the schema, the same for every file."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.fields import (AMOUNT, LINE_QUANTITY, MAX_LENGTH, QUANTITY, IngestOptions, decimal, finite_float,
                           optional, required, texts, time_in_range)
from ingest.reasons import RowError
from database.models import PurchaseRow, SettlementRow, SoldTraceCode


def test_limits_are_the_schema_s():
    assert MAX_LENGTH["item_code"] == min(PurchaseRow.__table__.c.item_code.type.length,
                                          SoldTraceCode.__table__.c.item_code.type.length)
    assert MAX_LENGTH["supplier"] == PurchaseRow.__table__.c.supplier.type.length
    amount = SettlementRow.__table__.c.amount.type
    assert (AMOUNT.before_point, AMOUNT.decimal_places) == (amount.precision - amount.scale, amount.scale)
    assert LINE_QUANTITY.before_point == QUANTITY.before_point and LINE_QUANTITY.decimal_places is None


@pytest.mark.parametrize("text, digits, positive, value", [
    ("12.50", AMOUNT, False, Decimal("12.50")), ("0", QUANTITY, False, Decimal(0)),
    ("9999999999.99", QUANTITY, True, Decimal("9999999999.99")), ("0.125", LINE_QUANTITY, True, Decimal("0.125")),
])
def test_good_numbers(text, digits, positive, value):
    assert decimal("quantity", text, digits, positive=positive) == value


@pytest.mark.parametrize("text, digits, positive, problem", [
    ("1E+400", LINE_QUANTITY, False, "is too large"), ("10000000000", QUANTITY, False, "is too large"),
    ("NaN", None, False, "must be a non-negative number"), ("-Infinity", None, False, "non-negative"),
    ("sNaN", None, False, "non-negative"), ("0", QUANTITY, True, "must be a positive number"),
    ("1.005", QUANTITY, False, "more than 2 decimal places"), ("x", None, False, "is not a number"),
])
def test_bad_numbers_name_the_column(text, digits, positive, problem):
    with pytest.raises(RowError, match=problem) as info:
        decimal("quantity", text, digits, positive=positive)
    assert str(info.value).startswith("quantity")


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", ""])
def test_coordinates_must_be_finite(text):
    with pytest.raises(RowError, match="lat"):
        finite_float("lat", text)


@pytest.mark.parametrize("row, column, problem", [
    ({"invoice_no": "I" * 65}, "invoice_no", "invoice_no is longer than 64 characters"),
    ({"supplier": "S" * 256}, "supplier", "supplier is longer than 255 characters"),
    ({}, "pharmacy_id", "missing field pharmacy_id"), ({"pharmacy_id": " "}, "pharmacy_id", "empty field"),
])
def test_text_is_held_to_its_column(row, column, problem):
    reader = optional if column in ("invoice_no", "supplier") else required
    with pytest.raises(RowError, match=problem):
        reader(row, column)
    assert optional({}, "supplier") == "" and required({"item_code": " D1 "}, "item_code") == "D1"


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31T23:59:59-08:00", "1999-12-31T23:59:59+00:00"])
def test_times_outside_the_settings_range(text):
    with pytest.raises(RowError, match="received_at is outside 2000-01-01 .. 2100-01-01"):
        time_in_range("received_at", text, IngestOptions())


def test_the_range_is_the_settings_s():
    options = IngestOptions(settled_at_min=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(RowError, match="counted_at is outside 2026-01-01"):
        time_in_range("counted_at", "2025-12-31T08:00:00+08:00", options)
    assert time_in_range("counted_at", "2026-01-02T08:00:00+08:00", options).year == 2026


@pytest.mark.parametrize("row", [
    {"pharmacy_id": " P1 ", "item_name": "药", "quantity": "2"}, {"pharmacy_id": "P1", "quantity": "2"},
    {"pharmacy_id": "", "quantity": "2"}, {"quantity": "2"}, {"pharmacy_id": "P1", "item_name": "  "},
    {"pharmacy_id": "P" * 65, "quantity": ""}, {"pharmacy_id": "P1", "item_name": "n" * 300, "quantity": ""},
])
def test_texts_reads_a_row_as_required_and_optional_do_in_order(row):
    """texts() (one call per row, limits looked up once) says what required()/optional() say, field
    after field: the same values, or the same first fault."""
    def one_by_one():
        return [required(row, "pharmacy_id"), optional(row, "item_name"), required(row, "quantity")]

    try:
        expected = one_by_one()
    except RowError as exc:
        with pytest.raises(RowError) as info:
            texts(("pharmacy_id", True), ("item_name", False), ("quantity", True))(row)
        assert (info.value.column, str(info.value)) == (exc.column, str(exc))
    else:
        assert texts(("pharmacy_id", True), ("item_name", False), ("quantity", True))(row) == expected
