"""The floor's field limits (rxaudit.limits, what ingest checks input rows against) are the columns'
own: every String(N) and NUMERIC(p, s) of the tables inputs are stored in agrees with them."""

from database.models import Pharmacy, PurchaseRow, SettlementRow, SoldTraceCode, StockCountRow
from ingest import fields
from rxaudit import limits

STORED_INPUTS = (SettlementRow, PurchaseRow, StockCountRow, SoldTraceCode, Pharmacy)


def test_max_length_is_the_shortest_column_of_each_name():
    lengths: dict[str, int] = {}
    for model in STORED_INPUTS:
        for column in model.__table__.c:
            if length := getattr(column.type, "length", None):
                lengths[column.name] = min(length, lengths.get(column.name, length))
    assert lengths == dict(limits.MAX_LENGTH) == dict(fields.MAX_LENGTH)


def test_numeric_digits_are_the_columns():
    for column in (SettlementRow.__table__.c.amount, PurchaseRow.__table__.c.quantity,
                   StockCountRow.__table__.c.quantity):
        assert (column.type.precision, column.type.scale) == (limits.NUMERIC_PRECISION, limits.NUMERIC_SCALE)
    assert fields.AMOUNT == fields.QUANTITY == fields.Digits(10, 2)
