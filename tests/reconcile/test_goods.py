"""Goods and cards around a swipe (reconcile.goods) and the goods-swap rule (goods_mismatch)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ingest.cameras import CamerasConfig, CounterConfig, PharmacyConfig
from reconcile.goods import billed_quantities, held_count, resolve_classes, summarise_goods
from rxaudit.domain import ItemCategory, SettlementItem
from tests.factories import T0, covered_footage, detected, observation, settlement, visit
from tests.reconcile.test_rules import KEY, kinds, rules

COUNTER_TOP = ((0.0, 0.78), (1.0, 0.78), (1.0, 1.0), (0.0, 1.0))
LEFT = ((0.0, 0.0), (0.66, 0.0), (0.66, 1.0), (0.0, 1.0))


def item(code: str, category: ItemCategory, qty: str = "1") -> SettlementItem:
    return SettlementItem(code, f"item {code}", Decimal(qty), Decimal("9.90"), category)


DRUG, OTHER, UNKNOWN = ItemCategory.COVERED, ItemCategory.OTHER, ItemCategory.UNKNOWN


@pytest.mark.parametrize("per_frame, min_frames, expected", [
    ([], 2, 0), ([3], 2, 3), ([0, 2, 0], 2, 0), ([2, 2, 1], 2, 2), ([4, 1, 1, 3], 2, 3), ([5, 1], 1, 5),
])
def test_a_count_must_hold_in_several_frames(per_frame, min_frames, expected):
    assert held_count(per_frame, min_frames) == expected


def summary(observations, **kw):
    return summarise_goods(observations, T0, window_s=kw.get("window_s", 2.0), min_score=0.5,
                           min_frames=2, zone=LEFT, goods_zone=kw.get("goods_zone", COUNTER_TOP))


def test_summary_counts_the_counter_top_only_and_splits_cards_by_side():
    on_counter = (detected("non_covered", 100), detected("drug", 200), detected("card", 150),
                  detected("card", 560), detected("drug", 300, 12, score=0.9),  # the OSD line, top
                  detected("non_covered", 250, score=0.3))  # too unsure to count
    got = summary([observation(s, objects=on_counter) for s in (-1, 0, 1)])
    assert got["frames"] == 3
    assert got["counts"] == {"card": 2, "drug": 1, "non_covered": 1, "phone": 0, "unclear": 0}
    assert (got["payment_customer_side"], got["payment_staff_side"]) == (1, 1)
    assert {o["cls"] for o in got["objects"]} == {"non_covered", "drug", "card"}


@pytest.mark.parametrize("readings, expected", [
    # one object read as card 0.57 and snack 0.60 (seen on a rendered counter): neither counts
    ([("card", 0.57), ("non_covered", 0.60)], ["unclear"]),
    ([("non_covered", 0.90), ("card", 0.55)], ["non_covered"]),  # clearly a snack
    ([("drug", 0.95), ("non_covered", 0.60)], ["drug"]),  # clearly a drug
    ([("drug", 0.70), ("non_covered", 0.65), ("card", 0.6)], ["unclear"]),
    ([("non_covered", 0.7), ("non_covered", 0.6)], ["non_covered", "non_covered"]),  # same class: NMS's job
])
def test_one_object_read_as_two_classes_counts_only_when_one_reading_is_clear(readings, expected):
    got = resolve_classes([detected(cls, 100, score=score) for cls, score in readings])
    assert [o.cls for o in got] == expected


def test_goods_mismatch_abstains_when_the_only_snack_is_an_unclear_reading():
    both = (detected("card", 100, score=0.57), detected("non_covered", 101, score=0.60))
    got = summary([observation(s, objects=both) for s in (-1, 0, 1)])
    assert got["counts"]["non_covered"] == 0 and got["counts"]["unclear"] == 1
    apart = (detected("card", 100, score=0.57), detected("non_covered", 300, score=0.60))
    assert summary([observation(s, objects=apart) for s in (-1, 0, 1)])["counts"]["non_covered"] == 1


def test_summary_is_none_where_the_detector_did_not_run():
    assert summary([observation(0), observation(1)]) is None
    assert summary([observation(9, objects=(detected("card"),))]) is None  # outside the window


def test_one_mistaken_frame_does_not_count():
    frames = [observation(-1, objects=()), observation(0, objects=(detected("non_covered"),)),
              observation(1, objects=())]
    assert summary(frames)["counts"]["non_covered"] == 0


def test_billed_quantities_by_category():
    s = settlement(1, items=(item("A", DRUG, "2"), item("B", OTHER), item("C", UNKNOWN)))
    assert billed_quantities(s) == {"covered": 2.0, "other": 1.0, "unknown": 1.0}


def goods_rules(items, seen, *, billed=None, cameras=None, **kw):
    s = settlement(1, seconds=15, items=tuple(billed if billed is not None else items))
    footage = covered_footage(0, 40, [visit(0, 40)], goods=lambda t: seen if 12 <= t <= 18 else ())
    return kinds(rules([s], {KEY: footage}, cameras=cameras, **kw))["S1"]


SNACK, BOX = detected("non_covered", 120), detected("drug", 200)


@pytest.mark.parametrize("billed, seen, flagged", [
    ([item("A", DRUG)], (BOX,), False),                                  # what was billed
    ([item("A", DRUG)], (SNACK,), True),                                 # a snack billed as a drug
    ([item("A", DRUG), item("B", DRUG)], (SNACK, BOX), True),            # one of two swapped
    ([item("A", DRUG), item("B", OTHER)], (SNACK, BOX), False),          # the snack billed as other
    ([item("A", DRUG), item("B", UNKNOWN)], (SNACK, BOX), False),        # uncatalogued: benefit of doubt
    ([item("A", DRUG)], (BOX, detected("drug", 260)), False),            # one more: within the margin
    ([item("A", DRUG)], (BOX, detected("drug", 260), detected("drug", 330)), True),  # clearly more
    ([], (SNACK,), False),                                               # nothing billed to compare
    ([item("A", DRUG)], (), False),                                      # nothing seen
])
def test_goods_mismatch(billed, seen, flagged):
    assert ("goods_mismatch" in goods_rules(billed, seen)) is flagged


def test_goods_mismatch_needs_the_detector():
    s = settlement(1, seconds=15, items=(item("A", DRUG),))
    assert kinds(rules([s], {KEY: covered_footage(0, 40, [visit(0, 40)])}))["S1"] == []


def test_goods_outside_the_goods_zone_do_not_count():
    cameras = CamerasConfig(pharmacies={"PH1": PharmacyConfig(counters={"C1": CounterConfig(
        goods_zone=((0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.0, 0.5)))})})
    assert goods_rules([item("A", DRUG)], (SNACK,), cameras=cameras) == []


def test_goods_mismatch_reason_lists_the_bill():
    s = settlement(1, seconds=15, items=(item("86900001", DRUG),))
    footage = covered_footage(0, 40, [visit(0, 40)], goods=lambda t: (SNACK,))
    (result,) = rules([s], {KEY: footage})
    (flag,) = result.flags
    assert "1 non-covered item(s)" in flag.reason and "86900001" in flag.reason
    assert flag.evidence[0].seen["goods"]["counts"]["non_covered"] == 1


def test_a_card_in_the_cashiers_hands_strengthens_no_customer():
    s = settlement(1, seconds=15)
    cameras = CamerasConfig(pharmacies={"PH1": PharmacyConfig(counters={"C1": CounterConfig(zone=LEFT)})})
    plain = rules([s], {KEY: covered_footage(0, 40, [], goods=lambda t: ())}, cameras=cameras)[0].flags[0]
    staff = rules([s], {KEY: covered_footage(0, 40, [], goods=lambda t: (detected("card", 560),))},
                  cameras=cameras)[0].flags[0]
    assert str(plain.kind) == str(staff.kind) == "no_customer"
    assert staff.score > plain.score and "staff side" in staff.reason


def test_several_cards_seen_together_strengthen_pooling():
    swipes = [settlement(n, seconds=10 * n, card=f"C{n}") for n in (1, 2, 3)]
    cards = (detected("card", 100), detected("card", 150), detected("card", 200))
    footage = covered_footage(0, 50, [visit(0, 50)], goods=lambda t: cards)
    flags = [f for r in rules(swipes, {KEY: footage}) for f in r.flags if str(f.kind) == "card_pooling"]
    assert len(flags) == 3 and all("3 cards seen together" in f.reason for f in flags)


@pytest.mark.parametrize("objects, note", [
    ((detected("non_covered", 100, score=0.9),), None),  # sure: counted, nothing to explain
    ((detected("non_covered", 100, score=0.3),), {"unsure": 1, "unclear": 0, "min_score": 0.5}),
    ((detected("drug", 100, score=0.45), detected("non_covered", 300, score=0.2)),
     {"unsure": 2, "unclear": 0, "min_score": 0.5}),
    ((detected("card", 100, score=0.57), detected("non_covered", 101, score=0.60)),
     {"unsure": 0, "unclear": 1, "min_score": 0.5}),
    ((detected("card", 100, score=0.3),), None),  # an unsure card is not goods
    ((detected("non_covered", 300, 12, score=0.3),), None),  # off the counter top
])
def test_goods_left_uncounted_leave_a_goods_unclear_note(objects, note):
    got = summary([observation(s, objects=objects) for s in (-1, 0, 1)])
    assert got.get("goods_unclear") == note


def test_an_unsure_reading_in_one_frame_only_leaves_no_note():
    frames = [observation(-1, objects=()), observation(0, objects=(detected("non_covered", score=0.3),)),
              observation(1, objects=())]
    assert "goods_unclear" not in summary(frames)
