from __future__ import annotations

from sample_footage.scenarios import Planner


def summary(seed):
    clusters = Planner(seed).plan()
    return [(c.pharmacy_id, c.counter_id, c.start, [s.settlement_id for s in c.settlements]) for c in clusters]


def test_a_fresh_seed_gives_a_different_scene():
    assert summary(3) != summary(4)
    assert summary(3) == summary(3)


def test_plan_covers_every_situation():
    clusters = Planner(5).plan()
    expect = [k for c in clusters for s in c.settlements for k in s.expect]
    for kind in ("no_customer", "card_pooling", "unverifiable", "off_hours", "burst", "duplicate_settlement",
                 "goods_mismatch"):
        assert kind in expect
    pharmacies = {c.pharmacy_id for c in clusters}
    assert len(pharmacies) >= 3
    counters = {(c.pharmacy_id, c.counter_id) for c in clusters if c.footage == "ok"}
    assert sum(1 for p in pharmacies if sum(1 for q, _ in counters if q == p) >= 2) >= 1
    assert {c.footage for c in clusters} >= {"ok", "missing", "corrupt", "unknown_counter"}


def test_settlement_ids_are_unique():
    ids = [s.settlement_id for c in Planner(9).plan() for s in c.settlements]
    assert len(ids) == len(set(ids))


def test_every_swipe_has_a_bill_and_what_lies_on_the_counter():
    from sample_footage.goods import VARIANT_CLASS

    for s in (s for c in Planner(6).plan() for s in c.settlements):
        assert s.lines, s.settlement_id
        shown = [VARIANT_CLASS[i.variant] for i in s.shown]
        assert shown.count("card") + shown.count("phone") >= 1  # the card or e-voucher at the swipe
        other_billed = sum(line.quantity for line in s.lines if line.category == "other")
        if "goods_mismatch" in s.expect:  # swapped, or clearly more than billed
            assert shown.count("non_covered") > other_billed or len(shown) - 1 >= len(s.lines) + 2
        else:
            assert shown.count("non_covered") <= other_billed
        assert all(s.rel_t - 5 <= i.start and i.end <= s.rel_t + 3 for i in s.shown)
