"""The batch's traceability codes held compactly (rxaudit.records.SoldCodes): what goes in comes
out, repeats and earlier sales are found by code, rejected rows' lines can be dropped."""

from __future__ import annotations

from decimal import Decimal

from rxaudit.domain import SettlementItem
from rxaudit.records import SoldCodes
from tests.factories import settlement


def code(n: int, head: int = 0) -> str:
    return f"{head:010d}{n:010d}"


BIG = "9" * 20  # above 2**64: held as two halves


def sale(n, *lines):
    return settlement(n, items=tuple(SettlementItem(item, "drug", Decimal(qty), Decimal(1), trace_codes=tuple(codes))
                                     for item, qty, codes in lines))


def test_lines_come_back_as_given():
    sold = SoldCodes.of([sale(1, ("D1", 2, [code(1), BIG]), ("D2", 1, [])), sale(2, ("D3", 1, [code(5, head=7)]))])
    assert list(sold.lines()) == [("S1", 1, "D1", (code(1), BIG)), ("S2", 1, "D3", (code(5, head=7),))]
    assert len(sold) == 2 and sold.code_count == 3
    assert [sold.line_of(p) for p in range(3)] == [0, 0, 1]


def test_repeats_are_found_with_every_position():
    sold = SoldCodes.of([sale(1, ("D1", 1, [code(1)])), sale(2, ("D1", 2, [code(2), code(2)])),
                         sale(3, ("D1", 1, [BIG])), sale(4, ("D1", 1, [code(1)])), sale(5, ("D1", 1, [BIG])),
                         sale(6, ("D1", 1, [code(1)]))])
    assert sold.repeated() == {code(1): [0, 4, 6], code(2): [1, 2], BIG: [3, 5]}
    assert list(sold.unique_codes()) == [code(1), code(2), BIG]
    assert sold.positions(BIG) == [3, 5] and sold.positions(code(9)) == []
    assert sold.positions(code(1, head=1)) == []  # same low half, other high half


def test_lines_with_more_codes_than_units_are_noted():
    sold = SoldCodes.of([sale(1, ("D1", 1, [code(1), code(2)])), sale(2, ("D1", 2, [code(3), code(4)]))])
    assert sold.overfull == [("S1", 1, "D1", 2, Decimal(1))]


def test_dropped_settlements_leave_nothing_behind():
    sold = SoldCodes.of([sale(1, ("D1", 1, [code(1)])), sale(2, ("D1", 1, [code(1), code(2)])),
                         sale(3, ("D2", 1, [code(3)]))])
    sold.drop({"S2"})
    assert list(sold.lines()) == [("S1", 1, "D1", (code(1),)), ("S3", 1, "D2", (code(3),))]
    assert sold.repeated() == {} and sold.overfull == []
    sold.drop({"S9"})  # nothing of it: unchanged
    assert len(sold) == 2


def test_empty():
    sold = SoldCodes.of([sale(1, ("D1", 1, []))])
    assert len(sold) == 0 and sold.repeated() == {} and list(sold.unique_codes()) == []
    assert sold.positions(code(1)) == []


def test_code_rows_are_each_lines_codes_once_in_line_order_whatever_the_block():
    sold = SoldCodes.of([sale(1, ("D1", 2, [code(1), BIG]), ("D2", 3, [code(2), code(2), code(3)])),
                         sale(2, ("D1", 1, [code(1)])), sale(3, ("D3", 2, [code(4, head=3), code(4, head=3)])),
                         sale(4, ("D2", 1, [])), sale(5, ("D4", 1, ["0" * 20]))])
    expected = [(c, sid, line_no, item) for sid, line_no, item, codes in sold.lines() for c in dict.fromkeys(codes)]
    assert expected == [(code(1), "S1", 1, "D1"), (BIG, "S1", 1, "D1"), (code(2), "S1", 2, "D2"),
                        (code(3), "S1", 2, "D2"), (code(1), "S2", 1, "D1"), (code(4, head=3), "S3", 1, "D3"),
                        ("0" * 20, "S5", 1, "D4")]
    for block in (1, 2, 3, 10_000):
        blocks = list(sold.code_rows(block=block))
        assert [row for rows in blocks for row in rows] == expected
        assert len(blocks) == -(-len(sold) // block)
    assert list(SoldCodes().code_rows()) == []
