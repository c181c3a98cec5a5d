"""Shared traceability codes give bounded findings (issue 24): many settlements sharing thousands of
codes is still one flag per settlement whose reason and evidence hold totals and the first few codes
and partners, never a sentence per code naming every partner (that grew as codes x partners)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import pytest

from reconcile.rules import trace_code_reuse
from rxaudit.bounds import EVIDENCE_LIST_MAX, REASON_MAX, json_size
from rxaudit.domain import SettlementItem
from rxaudit.records import CodeSale, Records, SoldCodes
from tests.factories import T0, context, settlement


def shared(settlements: int, codes: int, *, overfull: int = 0):
    """``settlements`` sales that each carry the same ``codes`` codes (the issue's case: 40 x 6,000),
    as the audit's reader holds them; ``overfull`` of them also carry a line with too many codes."""
    every = tuple(f"8{k:019d}" for k in range(codes))
    sold, sales = SoldCodes(), []
    for n in range(settlements):
        line = SettlementItem("D1", "drug", Decimal(codes), Decimal("1.00"))
        items = (line, SettlementItem("D2", "drug", Decimal(1), Decimal("1.00"))) if n < overfull else (line,)
        sales.append(settlement(n, seconds=60 * n, pharmacy=f"PH{n % 7}", items=items))
        sold.add(f"S{n}", 1, "D1", Decimal(codes), every)
        if n < overfull:
            sold.add(f"S{n}", 2, "D2", Decimal(1), (f"9{n:019d}", f"9{n + 10**6:019d}"))
    return sales, Records(sold_codes=sold)


def flags_of(sales, records):
    ctx = context(settlements=sales)
    ctx.records = records
    return {f.settlement_id: f for f in trace_code_reuse.check(sales, ctx)}


@cache
def sharing(settlements: int, codes: int):
    return flags_of(*shared(settlements, codes))


@pytest.mark.parametrize("settlements, codes", [(2, 1000), (40, 6000)])
def test_a_flag_holds_totals_and_the_first_few_whatever_the_sharing(settlements, codes):
    flags = sharing(settlements, codes)
    assert sorted(flags) == sorted(f"S{n}" for n in range(settlements))
    for sid, flag in flags.items():
        seen = flag.evidence[0].seen
        assert seen["codes_total"] == codes and seen["partners_total"] == settlements - 1
        assert len(seen["reused_codes"]) == min(codes, EVIDENCE_LIST_MAX)
        assert seen["linked_settlements"] == sorted(f"S{n}" for n in range(settlements) if f"S{n}" != sid)[
            :EVIDENCE_LIST_MAX]
        assert len(flag.reason) <= REASON_MAX
        assert f"sold {settlements} times" in flag.reason and f"{settlements - 1} other settlement(s)" in flag.reason


def test_what_a_flag_holds_does_not_grow_with_the_codes_or_the_partners():
    small, big = sharing(2, 1000)["S0"], sharing(40, 6000)["S0"]
    # the same structure, lists at their cap: only the digits of the totals and ids differ
    assert json_size(big.evidence[0].seen) <= json_size(small.evidence[0].seen) + 40 * EVIDENCE_LIST_MAX
    assert len(big.reason) <= len(small.reason) + 200


def test_earlier_sales_count_as_partners_and_lines_with_too_many_codes_are_summed_up():
    sales, records = shared(3, 50, overfull=2)
    earlier = {f"8{k:019d}": tuple(CodeSale(f"8{k:019d}", f"E{j}", "PH9", "D1", T0) for j in range(30))
               for k in range(50)}
    flags = flags_of(sales, Records(sold_codes=records.sold_codes, earlier_codes=earlier))
    seen = flags["S0"].evidence[0].seen
    assert (seen["codes_total"], seen["partners_total"]) == (50, 32)  # S1, S2 and E0..E29
    assert seen["linked_settlements"] == sorted(["S1", "S2", *(f"E{j}" for j in range(30))])[:EVIDENCE_LIST_MAX]
    assert "line 2 (D2) carries 2 traceability codes for 1 unit(s)" in flags["S0"].reason
    assert "sold 33 times" in flags["S0"].reason and "… +29" in flags["S0"].reason


def test_a_code_twice_in_one_settlement_names_no_partner():
    sold = SoldCodes()
    sale = settlement(1, items=(SettlementItem("D1", "drug", Decimal(1), Decimal(1)),
                                SettlementItem("D1", "drug", Decimal(1), Decimal(1))))
    sold.add("S1", 1, "D1", Decimal(1), ("1" * 20,))
    sold.add("S1", 2, "D1", Decimal(1), ("1" * 20,))
    flag = flags_of([sale], Records(sold_codes=sold))["S1"]
    assert flag.evidence[0].seen == {"reused_codes": ["1" * 20], "codes_total": 1, "linked_settlements": [],
                                     "partners_total": 0}
    assert flag.reason == f"traceability code {'1' * 20} sold 2 times"
