"""goods_mismatch accuses only on decisive evidence of goods that came with the customer (issue 25).

Indecisive readings (a rival drug reading of the same object, too low a score, too few frames)
make the rule abstain with a review-only ``goods_unclear`` flag; goods on display (``display_zone``)
or lying on the counter before the customer arrived are not the customer's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ingest.cameras import CamerasConfig, CounterConfig, PharmacyConfig
from rxaudit.domain import CheckStatus, DetectedObject, FlagKind
from tests.factories import covered_footage, detected, settlement, visit
from tests.reconcile.test_goods import DRUG, OTHER, item
from tests.reconcile.test_rules import KEY, kinds, rules

SNACK = detected("non_covered", 120, score=0.95)
BOX = detected("drug", 260, score=0.95)


def contested(runner_up: str = "drug", score: float = 0.6, *, at: float = 120,
              snack_score: float = 0.95) -> DetectedObject:
    """A box read as non-covered, with a second reading of the same box (the runner-up class)."""
    return replace(detected("non_covered", at, score=snack_score), runner_up=runner_up, runner_up_score=score)


def sale(seen_at, *, billed=(item("A", DRUG),), visits=None, start=0.0, cameras=None, **config):
    """One swipe at 15 s, the customer there from 0 s (or ``visits``); ``seen_at(t)``: what the
    counter detector sees at t seconds."""
    s = settlement(1, seconds=15, items=tuple(billed))
    footage = covered_footage(start, 40, [visit(0, 40)] if visits is None else visits, goods=seen_at)
    return rules([s], {KEY: footage}, cameras=cameras, **config)[0]


def near_swipe(*objects):
    return lambda t: objects if 12 <= t <= 18 else ()


def flagged(result) -> list[str]:
    return sorted(str(f.kind) for f in result.flags)


@pytest.mark.parametrize("snack, expected", [
    (SNACK, ["goods_mismatch"]),                                   # decisive: accused
    (contested("drug", 0.6), ["goods_unclear"]),                   # the same box read as a drug too
    (contested("drug", 0.3), ["goods_mismatch"]),                  # a faint drug reading is no rival
    (contested("card", 0.7), ["goods_mismatch"]),                  # a card reading is no drug
    (detected("non_covered", 120, score=0.65), ["goods_unclear"]),  # not sure enough to accuse
    (detected("non_covered", 120, score=0.3), []),                 # too faint even for review
])
def test_only_a_decisive_non_covered_reading_accuses(snack, expected):
    assert flagged(sale(near_swipe(snack, BOX), billed=(item("A", DRUG), item("B", DRUG)))) == expected


def test_a_drug_box_over_the_same_object_in_another_frame_is_a_rival():
    """The detector reads the object as a drug in one frame and a snack in the others."""
    drug_once = replace(SNACK, cls="drug", score=0.7)
    seen = lambda t: (drug_once,) if t == 15 else (SNACK,) if 12 <= t <= 18 else ()  # noqa: E731
    got = sale(seen)
    assert flagged(got) == ["goods_unclear"]
    assert got.flags[0].evidence[0].seen["goods"]["goods_unclear"]["contested"] >= 1


def test_a_reading_held_in_too_small_a_share_of_the_frames_is_not_decisive():
    """Eleven frames checked near the swipe (window 2.5 s at 2 fps): a snack in 4 of them holds
    for ``goods_min_frames`` (2) but not for half the frames (``goods_min_share``)."""
    seen = lambda t: (SNACK,) if 14 <= t <= 15.5 else ()  # noqa: E731
    assert flagged(sale(seen, goods_window_s=2.5)) == ["goods_unclear"]
    assert flagged(sale(seen, goods_window_s=2.5, goods_min_share=0.3)) == ["goods_mismatch"]


def test_goods_unclear_is_for_review_and_accuses_no_one():
    got = sale(near_swipe(contested()))
    (flag,) = got.flags
    assert flag.kind == FlagKind.GOODS_UNCLEAR and not flag.kind.accuses and FlagKind.GOODS_MISMATCH.accuses
    assert flag.score < 0.5 and "not an accusation" in flag.reason
    assert got.status == CheckStatus.CLEAN  # a review item, not a flagged settlement


def test_a_non_covered_line_on_the_bill_covers_an_unclear_item():
    assert flagged(sale(near_swipe(contested()), billed=(item("A", DRUG), item("B", OTHER)))) == []


def test_the_excess_rule_does_not_care_which_goods_class_wins():
    many = (contested(at=100), contested(at=200), contested(at=300))
    assert "goods_mismatch" in flagged(sale(near_swipe(*many)))


def stocked_cameras(**counter) -> CamerasConfig:
    return CamerasConfig(pharmacies={"PH1": PharmacyConfig(counters={"C1": CounterConfig(**counter)})})


DISPLAY = ((0.7, 0.85), (1.0, 0.85), (1.0, 1.0), (0.7, 1.0))  # the right of the counter top, in front


def test_goods_on_display_are_not_the_customers():
    displayed = detected("non_covered", 560, 340, score=0.99)
    assert flagged(sale(near_swipe(displayed))) == ["goods_mismatch"]  # nothing configured
    assert flagged(sale(near_swipe(displayed), cameras=stocked_cameras(display_zone=DISPLAY))) == []
    # the customer's own snack, off the display, still counts
    got = sale(near_swipe(displayed, SNACK), cameras=stocked_cameras(display_zone=DISPLAY))
    assert flagged(got) == ["goods_mismatch"]
    assert got.flags[0].evidence[0].seen["goods"]["on_display"] == 1


def test_a_card_laid_on_the_glass_top_is_still_a_card():
    card = detected("card", 560, 340, score=0.99)
    got = sale(near_swipe(card), cameras=stocked_cameras(display_zone=DISPLAY))
    assert got.seen["goods"]["counts"]["card"] == 1


def lying_then_customer(lying, brought=()):
    """Footage from -20 s; the customer arrives at 5 s and pays at 15 s; ``lying`` is on the counter
    all along, ``brought`` from 10 s."""
    return lambda t: tuple(lying) + (tuple(brought) if t >= 10 else ())


def test_goods_lying_on_the_counter_before_the_customer_came_are_not_theirs():
    lying = [detected("non_covered", 80, score=0.99)]
    got = sale(lying_then_customer(lying), visits=[visit(5, 40)], start=-20)
    assert flagged(got) == []
    goods = got.seen["goods"]
    assert goods["already_there"] == 1 and goods["counts"]["non_covered"] == 0 and goods["baseline_t"]


def test_goods_the_customer_brings_count_beside_goods_already_there():
    lying = [detected("non_covered", 80, score=0.99)]
    got = sale(lying_then_customer(lying, [SNACK, detected("non_covered", 180, score=0.95)]),
               visits=[visit(5, 40)], start=-20)
    assert flagged(got) == ["goods_mismatch"]
    assert got.flags[0].evidence[0].seen["goods"]["decisive"] == {"non_covered": 2}


def test_without_a_look_at_the_counter_before_the_customer_came_everything_counts():
    lying = [detected("non_covered", 80, score=0.99)]
    # the customer stood there before the footage began: nothing tells what lay there before
    assert flagged(sale(lying_then_customer(lying), visits=[visit(-20, 40)], start=-20)) == ["goods_mismatch"]
    # switched off
    assert flagged(sale(lying_then_customer(lying), visits=[visit(5, 40)], start=-20,
                        goods_arrival_lookback_s=0)) == ["goods_mismatch"]
    # the last customer-free frame is too long before the arrival
    assert flagged(sale(lying_then_customer(lying), visits=[visit(5, 40)], start=-20,
                        goods_arrival_lookback_s=0.2)) == ["goods_mismatch"]


def test_a_moved_item_is_not_the_item_that_lay_there():
    before, after = detected("non_covered", 80, score=0.99), detected("non_covered", 200, score=0.99)
    seen = lambda t: (before,) if t < 5 else (after,)  # noqa: E731
    assert flagged(sale(seen, visits=[visit(5, 40)], start=-20)) == ["goods_mismatch"]


def test_no_goods_swap_is_judged_without_a_customer():
    """Goods lying on an empty counter at a swipe were handed to no one (no_customer says the rest)."""
    s = settlement(1, seconds=15, items=(item("A", DRUG),))
    footage = covered_footage(0, 40, [], goods=lambda t: (SNACK,))
    assert kinds(rules([s], {KEY: footage}))["S1"] == ["no_customer"]


def test_a_queue_keeps_the_counter_as_the_first_customer_found_it():
    """The next customer steps up before the last one leaves: the counter was never empty at their
    arrival, and what lay there before the first of them came is still not theirs."""
    lying = (detected("non_covered", 80, score=0.99),)
    s = settlement(1, seconds=30, items=(item("A", DRUG),))
    queue = [visit(5, 20), visit(18, 40, track_id=2)]
    got = rules([s], {KEY: covered_footage(-20, 40, queue, goods=lambda t: lying)})[0]
    assert flagged(got) == [] and got.seen["goods"]["already_there"] == 1
    # the same queue seen only from the second customer's arrival on: nothing tells what lay there
    got = rules([s], {KEY: covered_footage(10, 40, queue, goods=lambda t: lying)})[0]
    assert flagged(got) == ["goods_mismatch"]
