"""Cross-settlement rules on interleaved input: what they find does not depend on the order of the
log, and one card's charges at several pharmacies and amounts are told apart."""

from __future__ import annotations

import random

from reconcile.engine import iter_results, run_rules
from rxaudit.domain import FlagKind
from tests.factories import context, settlement


def duplicates(swipes) -> dict[str, str]:
    out = {}
    for r in run_rules(swipes, context(settlements=swipes)):
        for f in r.flags:
            if f.kind == FlagKind.DUPLICATE_SETTLEMENT:
                out[f.settlement_id] = f.evidence[0].seen["duplicate_of"]
    return out


def test_duplicate_pairs_one_card_per_pharmacy_and_amount():
    swipes = [settlement(1, pharmacy="PA", card="X", amount="10.00"),
              settlement(2, pharmacy="PB", card="X", amount="10.00", seconds=5),   # other pharmacy
              settlement(3, pharmacy="PA", card="X", amount="11.00", seconds=10),  # other amount
              settlement(4, pharmacy="PA", card="X", amount="10.0", seconds=20),   # same amount, written shorter
              settlement(5, pharmacy="PA", card="Y", amount="10.00", seconds=25),  # other card
              settlement(6, pharmacy="PB", card="X", amount="10.00", seconds=60)]
    assert duplicates(swipes) == {"S4": "S1", "S6": "S2"}
    shuffled = swipes[:]
    random.Random(4).shuffle(shuffled)
    assert duplicates(shuffled) == {"S4": "S1", "S6": "S2"}


def test_results_come_in_the_order_given_with_the_flags_of_every_rule():
    swipes = [settlement(i, pharmacy="PA", counter="C1", seconds=20 * i) for i in range(7)]  # a burst
    swipes.append(settlement(9, pharmacy="PA", card="CARD1", amount="10.00", seconds=30))  # charged twice
    ctx = context(settlements=swipes)
    streamed = list(iter_results(swipes, ctx))
    assert [r.settlement.settlement_id for r in streamed] == [s.settlement_id for s in swipes]
    listed = run_rules(swipes, ctx)
    assert [(r.status, [(f.kind, f.reason) for f in r.flags]) for r in streamed] == \
        [(r.status, [(f.kind, f.reason) for f in r.flags]) for r in listed]
    kinds = {r.settlement.settlement_id: {f.kind for f in r.flags} for r in streamed}
    assert kinds["S9"] >= {FlagKind.UNVERIFIABLE, FlagKind.BURST, FlagKind.DUPLICATE_SETTLEMENT}
    # the engine's own order of kinds within a settlement: per-settlement rules first, then batch rules
    assert [f.kind for f in streamed[-1].flags][:1] == [FlagKind.UNVERIFIABLE]
