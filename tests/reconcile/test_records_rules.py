"""The records rules: stock shortfall (进销存), traceability-code reuse, card conflicts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from reconcile.engine import run_rules
from reconcile.rules import card_conflict, stock_shortfall, trace_code_reuse
from rxaudit.domain import FlagKind, SettlementItem
from rxaudit.records import CodeSale, Location, Purchase, Records, StockCount
from tests.factories import T0, context, settlement


def code(n: int) -> str:
    return f"{n:020d}"


def sale(n, hours, qty=1, item="D1", pharmacy="PH1", codes=(), **kw):
    return settlement(n, seconds=hours * 3600, pharmacy=pharmacy,
                      items=(SettlementItem(item, "drug", Decimal(qty), Decimal("9.90"),
                                            trace_codes=tuple(codes)),), **kw)


def count(qty, hours=-1, item="D1", pharmacy="PH1"):
    return StockCount(pharmacy, item, Decimal(qty), T0 + timedelta(hours=hours))


def bought(qty, hours, item="D1", pharmacy="PH1"):
    return Purchase(pharmacy, item, Decimal(qty), T0 + timedelta(hours=hours), "SUP", "INV1")


def run(rule, sales, records=Records(), **config):
    ctx = context(settlements=list(sales), **config)
    ctx.records = records
    return {f.settlement_id: f for f in rule(list(sales), ctx)}


@pytest.mark.parametrize("counts, purchases, sales, flagged", [
    ([count(2)], [], [sale(1, 0), sale(2, 1)], []),                          # exactly enough
    ([count(2)], [], [sale(1, 0), sale(2, 1), sale(3, 2)], ["S3"]),           # one too many
    ([count(1)], [], [sale(1, 0, qty=3), sale(2, 1)], ["S1", "S2"]),          # first pushes below, all after
    ([count(1)], [bought(5, 0.5)], [sale(1, 0), sale(2, 1), sale(3, 2)], []),  # a delivery covers it
    ([count(0)], [bought(2, 0.5)], [sale(1, 0), sale(2, 1)], ["S1"]),          # sold before it arrived
    ([count(0), count(5, hours=1.5)], [], [sale(1, 1), sale(2, 2)], ["S1"]),  # a new count resets
    ([], [], [sale(1, 0, qty=9)], []),                                       # no count: not judged
    ([count(0, item="D2")], [], [sale(1, 0)], []),                           # other item
    ([count(0, pharmacy="PH2")], [], [sale(1, 0)], []),                      # other pharmacy
    ([count(0, hours=1)], [], [sale(1, 0)], []),                             # count after the sale
    ([count(1, hours=0)], [], [sale(1, 0)], []),                             # count at the sale applies
])
def test_stock_shortfall(counts, purchases, sales, flagged):
    got = run(stock_shortfall.check, sales, Records(purchases=tuple(purchases), stock_counts=tuple(counts)))
    assert sorted(got) == flagged
    for flag in got.values():
        assert flag.kind == FlagKind.STOCK_SHORTFALL


def test_stock_shortfall_evidence_is_the_ledger():
    got = run(stock_shortfall.check, [sale(1, 0, qty=2), sale(2, 1, qty=2)],
              Records(purchases=(bought(1, 0.5),), stock_counts=(count(2),)))
    ledger = got["S2"].evidence[0].seen["ledger"]
    assert ledger == {"pharmacy_id": "PH1", "item_code": "D1", "counted_at": (T0 - timedelta(hours=1)).isoformat(),
                      "count": 2, "received_since": 1, "sold_since": 4, "this_sale": 2, "balance": -1}
    assert list(got) == ["S2"] and "1 more sold than the pharmacy had" in got["S2"].reason


@pytest.mark.parametrize("sales, earlier, flagged", [
    ([sale(1, 0, codes=[code(1)]), sale(2, 1, codes=[code(2)])], (), {}),
    ([sale(1, 0, codes=[code(1)]), sale(2, 1, pharmacy="PH2", codes=[code(1)])], (),
     {"S1": ["S2"], "S2": ["S1"]}),                                                   # across pharmacies
    ([sale(1, 0, codes=[code(1)]), sale(2, 1, codes=[code(1)]), sale(3, 2, codes=[code(1)])], (),
     {"S1": ["S2", "S3"], "S2": ["S1", "S3"], "S3": ["S1", "S2"]}),
    ([sale(1, 0, qty=1, codes=[code(1), code(2)])], (), {"S1": []}),                  # more codes than units
    ([sale(1, 0, qty=2, codes=[code(1), code(2)])], (), {}),
    ([sale(1, 0, codes=[code(7)])], (CodeSale(code(7), "OLD1", "PH9", "D1", T0 - timedelta(days=20)),),
     {"S1": ["OLD1"]}),                                                               # sold in an earlier audit
    ([sale(1, 0, codes=[code(7)])], (CodeSale(code(7), "S1", "PH1", "D1", T0),), {}),  # its own earlier audit
])
def test_trace_code_reuse(sales, earlier, flagged):
    records = Records(earlier_codes={e.code: (e,) for e in earlier})
    got = run(trace_code_reuse.check, sales, records)
    assert {sid: f.evidence[0].seen["linked_settlements"] for sid, f in got.items()} == flagged
    assert all(f.kind == FlagKind.TRACE_CODE_REUSE for f in got.values())


def test_trace_code_must_be_twenty_digits():
    with pytest.raises(ValueError, match="20 digits"):
        SettlementItem("D1", "x", Decimal(1), Decimal(1), trace_codes=("123",))


NEAR = {"PH1": Location(36.06, 103.83), "PH2": Location(36.06, 103.93)}  # ~9 km: 9 min at 60 km/h
FAR = {"PH1": Location(36.06, 103.83), "PH2": Location(36.06, 104.83)}   # ~90 km: 1.5 h


@pytest.mark.parametrize("a, b, locations, conflict", [
    (dict(pharmacy="PH1"), dict(pharmacy="PH2", seconds=300), {}, True),       # 5 min, no coordinates
    (dict(pharmacy="PH1"), dict(pharmacy="PH2", seconds=700), {}, False),      # 11 min, no coordinates
    (dict(pharmacy="PH1"), dict(pharmacy="PH2", seconds=700), NEAR, False),    # 9 km in 11 min: fine
    (dict(pharmacy="PH1"), dict(pharmacy="PH2", seconds=3600), FAR, True),     # 90 km in an hour
    (dict(pharmacy="PH1"), dict(pharmacy="PH2", seconds=6000), FAR, False),    # 90 km in 100 min
    (dict(counter="C1"), dict(counter="C2", seconds=30), {}, True),            # two counters in 30 s
    (dict(counter="C1"), dict(counter="C2", seconds=90), {}, False),
    (dict(counter="C1"), dict(counter="C1", seconds=5), {}, False),            # one counter: not this rule
    (dict(pharmacy="PH1"), dict(pharmacy="PH2", seconds=60, card="OTHER"), {}, False),  # other card
])
def test_card_conflict(a, b, locations, conflict):
    first = settlement(1, card="CARD", **a)
    second = settlement(2, **{"card": "CARD", **b})
    got = run(card_conflict.check, [first, second], Records(locations=locations))
    if not conflict:
        assert got == {}
        return
    assert sorted(got) == ["S1", "S2"]
    assert got["S1"].evidence[0].seen["linked_settlements"] == ["S2"]
    assert got["S2"].evidence[0].seen["linked_settlements"] == ["S1"]
    assert "CARD" not in got["S1"].reason


def test_card_conflict_speed_is_a_setting():
    first, second = settlement(1, card="C"), settlement(2, card="C", pharmacy="PH2", seconds=700)
    assert run(card_conflict.check, [first, second], Records(locations=NEAR), travel_speed_kmh=30)


def test_engine_runs_the_records_rules_on_unverifiable_settlements_too():
    sales = [sale(1, 0, card="C", codes=[code(1)]), sale(2, 0.05, card="C", pharmacy="PH2", codes=[code(1)])]
    ctx = context(settlements=sales)
    ctx.records = Records(stock_counts=(count(1),))
    kinds = {r.settlement.settlement_id: sorted(str(f.kind) for f in r.flags) for r in run_rules(sales, ctx)}
    assert kinds == {"S1": ["card_conflict", "trace_code_reuse", "unverifiable"],
                     "S2": ["card_conflict", "trace_code_reuse", "unverifiable"]}


def test_trace_codes_survive_the_worker_round_trip():
    from rxaudit.domain import settlement_from_json, settlement_to_json

    s = sale(1, 0, qty=2, codes=[code(1), code(2)])
    assert settlement_from_json(settlement_to_json(s)) == s
    old = settlement_to_json(s)
    old["items"] = [row[:5] for row in old["items"]]  # a task stored before trace codes existed
    assert settlement_from_json(old).items[0].trace_codes == ()


def earlier(n, card="CARD", pharmacy="PH2", seconds=0.0, counter="C1"):
    from rxaudit.records import CardSale

    s = settlement(n, card=card, pharmacy=pharmacy, seconds=seconds, counter=counter)
    return CardSale(s.settlement_id, s.card_hash, pharmacy, counter, s.settled_at)


@pytest.mark.parametrize("stored, flagged, linked", [
    ([earlier(9, seconds=300)], ["S1"], ["S9"]),                      # 5 min later at PH2, earlier audit
    ([earlier(9, seconds=-300)], ["S1"], ["S9"]),                     # 5 min before
    ([earlier(9, seconds=700)], [], []),                              # 11 min: no conflict
    ([earlier(9, card="OTHER", seconds=60)], [], []),                 # another card
    ([earlier(8, seconds=60), earlier(9, pharmacy="PH3", seconds=90)], ["S1"], ["S8", "S9"]),
])
def test_card_conflict_with_settlements_of_earlier_audits(stored, flagged, linked):
    records = Records(earlier_cards={c.card_hash: (c,) for c in stored} if len(stored) < 2
                      else {stored[0].card_hash: tuple(stored)})
    got = run(card_conflict.check, [settlement(1, card="CARD")], records)
    assert sorted(got) == flagged
    if flagged:
        conflicts = got["S1"].evidence[0].seen["conflicts"]
        assert [c["settlement_id"] for c in conflicts] == linked and all(c["earlier_audit"] for c in conflicts)
        assert "earlier audit" in got["S1"].reason
