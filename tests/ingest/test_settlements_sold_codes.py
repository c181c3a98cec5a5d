"""The audit's reader keeps the lines' traceability codes compact (``read_settlements(sold_codes=...)``):
the lines carry none and equal lines are one object, a rejected settlement leaves no codes behind,
and the records rules flag exactly what they flag when the lines carry the codes."""

from __future__ import annotations

from reconcile.rules import trace_code_reuse
from ingest.settlements import read_settlements
from rxaudit.records import Records, SoldCodes
from tests.factories import KEY, context

A, B, C = "1" * 20, "2" * 20, "3" * 20

LOG = ("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
       "S1,PH1,C1,2026-11-20T10:00:00+08:00,6222001,10.00\n"
       "S2,PH2,C1,2026-11-20T11:00:00+08:00,6222002,10.00\n"
       "S3,PH1,C1,not a time,6222003,10.00\n"                     # rejected: its lines go too
       "S4,PH3,C2,2026-11-20T12:00:00+08:00,6222004,10.00\n")
ITEMS = ("settlement_id,item_code,item_name,quantity,unit_price,trace_codes\n"
         f"S1,D1,drug,1,5.00,{A}\n"
         f"S2,D2,other,1,5.00,\n"
         f"S2,D1,drug,1,5.00,{A}\n"                                 # A again, at another pharmacy
         f"S3,D1,drug,1,5.00,{B}\n"
         f"S4,D1,drug,1,5.00,{B};{C}\n")                            # two codes for one unit


def read(tmp_path, sold=None):
    (tmp_path / "settlements.csv").write_text(LOG, encoding="utf-8")
    (tmp_path / "settlement_items.csv").write_text(ITEMS, encoding="utf-8")
    return read_settlements(tmp_path / "settlements.csv", KEY, sold_codes=sold)


def test_codes_go_to_the_index_not_onto_the_lines(tmp_path):
    sold = SoldCodes()
    log = read(tmp_path, sold)
    assert [s.settlement_id for s in log.settlements] == ["S1", "S2", "S4"]
    assert all(not item.trace_codes for s in log.settlements for item in s.items)
    assert log.settlements[0].items[0] is log.settlements[1].items[1]  # equal lines: one object
    assert list(sold.lines()) == [("S1", 1, "D1", (A,)), ("S2", 2, "D1", (A,)), ("S4", 1, "D1", (B, C))]
    assert sold.overfull == [("S4", 1, "D1", 2, log.settlements[2].items[0].quantity)]


def test_the_rule_flags_the_same_from_the_index(tmp_path):
    sold = SoldCodes()
    compact = read(tmp_path, sold).settlements
    plain = read(tmp_path).settlements
    got = {}
    for settlements, records in ((compact, Records(sold_codes=sold)), (plain, Records())):
        ctx = context(settlements=list(settlements))
        ctx.records = records
        # the audit's order (pharmacy first) is not the file's: links and reasons must not depend on it
        ordered = sorted(settlements, key=lambda s: s.pharmacy_id, reverse=True)
        got[records.sold_codes is None] = {f.settlement_id: (f.reason, f.evidence[0].seen)
                                           for f in trace_code_reuse.check(ordered, ctx)}
    assert got[False] == got[True]
    flagged = got[False]
    assert sorted(flagged) == ["S1", "S2", "S4"]
    one = {"codes_total": 1, "partners_total": 1}
    assert flagged["S1"][1] == {"reused_codes": [A], "linked_settlements": ["S2"], **one}  # across pharmacies,
    assert flagged["S2"][1] == {"reused_codes": [A], "linked_settlements": ["S1"], **one}  # both ways
    assert "carries 2 traceability codes for 1 unit(s)" in flagged["S4"][0]
    assert "sold by 1 other settlement(s): S1 at PH1" in flagged["S2"][0]


def test_a_settlement_rejected_for_an_item_line_leaves_no_codes(tmp_path):
    """S2's second line is bad: S2 is rejected, and its good line's code (A) leaves the index too,
    so S1 is no longer linked to a settlement that was never audited."""
    (tmp_path / "settlements.csv").write_text(LOG, encoding="utf-8")
    (tmp_path / "settlement_items.csv").write_text(ITEMS.replace("S2,D2,other,1,5.00,", "S2,D2,other,1,5.OO,"),
                                                   encoding="utf-8")
    sold = SoldCodes()
    log = read_settlements(tmp_path / "settlements.csv", KEY, sold_codes=sold)
    assert [s.settlement_id for s in log.settlements] == ["S1", "S4"]
    assert list(sold.lines()) == [("S1", 1, "D1", (A,)), ("S4", 1, "D1", (B, C))]
