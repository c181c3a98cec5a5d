from __future__ import annotations

from datetime import timedelta

import pytest

from ingest.cameras import CamerasConfig, CounterConfig, PharmacyConfig
from reconcile.engine import run_rules
from rxaudit.domain import CheckStatus, FlagKind
from tests.factories import context, covered_footage, identity, settlement, visit

KEY = ("PH1", "C1")


def rules(swipes, footage=None, **kw):
    """Phase 1 (summaries of the given decoded footage) and phase 2 (the rules)."""
    history = kw.pop("history", ())
    ctx = context(footage, settlements=list(swipes), **kw)
    ctx.history = history
    return run_rules(list(swipes), ctx)


def kinds(results):
    return {r.settlement.settlement_id: sorted(str(f.kind) for f in r.flags) for r in results}


@pytest.mark.parametrize("visits, swipe_s, expected", [
    ([visit(0, 30)], 15, []),                       # customer stands there
    ([], 15, ["no_customer"]),                      # nobody
    ([visit(0, 14.5)], 15, []),                     # left 0.5 s before: within the clock tolerance (1 s)
    ([visit(0, 12)], 15, ["no_customer"]),          # left 3 s before: a short gap between customers
    ([visit(0, 5)], 15, ["no_customer"]),           # left 10 s before
    ([visit(15.5, 40)], 15, []),                    # arrives 0.5 s after: within tolerance
    ([visit(0, 12), visit(18, 40, track_id=2)], 15, ["no_customer"]),  # the gap between two customers
])
def test_no_customer(visits, swipe_s, expected):
    assert kinds(rules([settlement(1, seconds=swipe_s)], {KEY: covered_footage(-20, 60, visits)})) == {"S1": expected}


@pytest.mark.parametrize("uncertainty, expected", [(None, ["no_customer"]), (4.0, []), (2.0, ["no_customer"])])
def test_presence_tolerance_is_the_cameras_clock_uncertainty(uncertainty, expected):
    """A camera whose clock is known to wander by 4 s: a customer 3 s away may have been there."""
    cameras = CamerasConfig(pharmacies={"PH1": PharmacyConfig(counters={"C1": CounterConfig(
        clock_uncertainty_s=uncertainty)})})
    got = rules([settlement(1, seconds=15)], {KEY: covered_footage(-20, 60, [visit(0, 12)])}, cameras=cameras)
    assert kinds(got) == {"S1": expected}
    (result,) = got
    assert result.seen["presence_tolerance_s"] == (1.0 if uncertainty is None else uncertainty)
    if expected:
        assert f"within {result.seen['presence_tolerance_s']:g} s of the swipe" in result.flags[0].reason


def test_clock_offset_moves_the_swipe_onto_the_camera_clock():
    cameras = CamerasConfig(pharmacies={"PH1": PharmacyConfig(counters={"C1": CounterConfig(clock_offset_s=30)})})
    # the log says 15 s; the camera shows that moment at 45 s, when the customer is there
    got = rules([settlement(1, seconds=15)], {KEY: covered_footage(0, 80, [visit(40, 50)])}, cameras=cameras)
    assert kinds(got) == {"S1": []}


@pytest.mark.parametrize("footage, reason", [
    (None, "unknown counter"),
    ("empty", "no footage"),
    ("partial", "footage for only"),
])
def test_unverifiable_never_clean(footage, reason):
    data = {}
    if footage == "empty":
        data[KEY] = covered_footage(100, 120)
    elif footage == "partial":
        data[KEY] = covered_footage(0, 14.5)  # coverage is judged over 14..16 s: only 14..14.5 decoded
    (result,) = rules([settlement(1, seconds=15)], data)
    assert result.status == CheckStatus.UNVERIFIABLE
    (flag,) = result.flags
    assert flag.kind == FlagKind.UNVERIFIABLE and reason in flag.reason


def test_busy_counter_ties_each_swipe_to_the_customer_paying():
    """Three customers in a row, each one card; the next queues behind (smaller box)."""
    from rxaudit.domain import Box
    front, queued = Box(100, 60, 300, 330), Box(350, 80, 420, 200)
    visits = [visit(0, 20, track_id=1, box=front),
              visit(10, 40, track_id=2, box=queued),
              visit(30, 60, track_id=3, box=queued)]
    swipes = [settlement(1, seconds=15), settlement(2, seconds=25), settlement(3, seconds=50)]
    results = rules(swipes, {KEY: covered_footage(-20, 80, visits)})
    assert all(r.status == CheckStatus.CLEAN for r in results), kinds(results)


@pytest.mark.parametrize("cards, expected", [
    (["A", "B", "C"], "card_pooling"),   # one customer, three cards
    (["A", "B"], None),                  # family co-payment
    (["A", "A", "B"], None),             # two distinct cards only
])
def test_pooling_within_one_visit(cards, expected):
    swipes = [settlement(i, seconds=10 + 15 * i, card=c, amount=f"{i}.00") for i, c in enumerate(cards)]
    got = kinds(rules(swipes, {KEY: covered_footage(-20, 80, [visit(0, 60)])}))
    assert all((expected in k) == (expected is not None) for k in got.values()), got


def test_pooling_threshold_is_configurable():
    swipes = [settlement(1, seconds=10, card="A"), settlement(2, seconds=30, card="B")]
    got = rules(swipes, {KEY: covered_footage(-20, 80, [visit(0, 60)])}, pooling_min_cards=2)
    assert all(k == ["card_pooling"] for k in kinds(got).values())


def _face_day(faces, cards, *, days_apart=1.0):
    footage, swipes = {}, []
    for i, (face, card) in enumerate(zip(faces, cards)):
        key = (f"PH{i}", "C1")
        start = i * days_apart * 86400
        footage[key] = covered_footage(start - 20, start + 60,
                                       [visit(start, start + 40, identity=face, pharmacy=key[0])],
                                       pharmacy=key[0])
        swipes.append(settlement(i, seconds=start + 20, card=card, pharmacy=key[0]))
    return footage, swipes


@pytest.mark.parametrize("faces, cards, days_apart, flagged", [
    ([identity(1, 0.005, base=7)] * 3, ["A", "B", "C"], 1.0, True),      # same face, 3 cards
    ([identity(1, 0.005, base=7), identity(2, 0.005, base=7), identity(3, 0.005, base=7)], ["A", "B", "C"], 1.0, True),
    ([identity(1, 0.005, base=7)] * 3, ["A", "B", "A"], 1.0, False),     # 2 distinct cards
    ([identity(1), identity(2), identity(3)], ["A", "B", "C"], 1.0, False),  # 3 different people
    ([identity(1, 0.005, base=7)] * 3, ["A", "B", "C"], 20.0, False),    # 40 days: out of period
])
def test_pooling_same_face_across_pharmacies(faces, cards, days_apart, flagged):
    footage, swipes = _face_day(faces, cards, days_apart=days_apart)
    results = rules(swipes, footage)
    assert all(("card_pooling" in k) == flagged for k in kinds(results).values()), kinds(results)


def test_pooling_same_face_uses_history():
    from reconcile.context import IdentityRecord
    face = identity(1, 0.0, base=7)
    footage, swipes = _face_day([face], ["C"])
    history = tuple(IdentityRecord(f"OLD{i}", "PHX", f"h{i}", swipes[0].settled_at - timedelta(days=i + 1), face)
                    for i in range(2))
    (result,) = rules(swipes, footage, history=history)
    assert [str(f.kind) for f in result.flags] == ["card_pooling"]
    assert "OLD0" in result.flags[0].reason


@pytest.mark.parametrize("hours, at_hour, flagged", [
    ("08:00-21:00", 10, False), ("08:00-21:00", 21, True), ("08:00-21:00", 7, True),
    ("22:00-06:00", 23, False), ("22:00-06:00", 12, True),
])
def test_off_hours(hours, at_hour, flagged):
    cameras = CamerasConfig(pharmacies={"PH1": PharmacyConfig(business_hours=hours)})
    s = settlement(1)
    s = type(s)(**{**{f: getattr(s, f) for f in s.__slots__}, "settled_at": s.settled_at.replace(hour=at_hour)})
    (result,) = rules([s], {}, cameras=cameras)
    assert (FlagKind.OFF_HOURS in {f.kind for f in result.flags}) == flagged


@pytest.mark.parametrize("n_cards, spread_s, flagged", [(6, 200, True), (5, 200, False), (6, 400, False)])
def test_burst(n_cards, spread_s, flagged):
    swipes = [settlement(i, seconds=i * spread_s / (n_cards - 1)) for i in range(n_cards)]
    results = rules(swipes, {})
    assert all((FlagKind.BURST in {f.kind for f in r.flags}) == flagged for r in results)


@pytest.mark.parametrize("gap_s, same_amount, flagged", [(20, True, True), (20, False, False), (600, True, False)])
def test_duplicate_settlement(gap_s, same_amount, flagged):
    swipes = [settlement(1, card="A", amount="12.00"),
              settlement(2, seconds=gap_s, card="A", amount="12.00" if same_amount else "13.00")]
    results = {r.settlement.settlement_id: r for r in rules(swipes, {})}
    assert not any(f.kind == FlagKind.DUPLICATE_SETTLEMENT for f in results["S1"].flags)
    assert any(f.kind == FlagKind.DUPLICATE_SETTLEMENT for f in results["S2"].flags) == flagged
