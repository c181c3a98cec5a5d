"""Stocked counters (``rxaudit sample --stocked``, issue 25): goods under a glass top and goods lying
on the counter before the customers come. The day is the seed's day; the audit must raise no
goods_mismatch on clean sales and keep every kind at precision = recall = 1."""

from __future__ import annotations

import json

import pytest

from ingest.cameras import load_cameras
from sample_footage.generator import plan_bundle
from sample_footage.goods import VARIANT_CLASS
from sample_footage.scene import DISPLAY_X, DISPLAY_ZONE
from tests.conftest import TEST_KEY


def day(plan):
    return [(c.pharmacy_id, c.counter_id, c.start, [(s.settlement_id, s.rel_t, sorted(s.expect),
                                                      [(ln.item_code, ln.quantity) for ln in s.lines])
                                                     for s in c.settlements]) for c in plan.clusters]


@pytest.mark.parametrize("seed", [7, 101])
def test_stocking_keeps_the_seeds_day(seed):
    assert day(plan_bundle(seed, stocked=True)) == day(plan_bundle(seed))


@pytest.mark.parametrize("seed", [7, 101, 404])
def test_every_counter_with_footage_is_stocked_the_same_way_all_day(seed):
    plan = plan_bundle(seed, stocked=True)
    by_counter = {}
    for c in plan.clusters:
        if c.footage in ("missing", "unknown_counter"):
            assert not c.display and not c.fixtures
            continue
        assert 3 <= len(c.display) <= 5 and 1 <= len(c.fixtures) <= 2
        assert all(DISPLAY_X[0] <= i.x - i.width / 2 and i.x + i.width / 2 <= DISPLAY_X[1] for i in c.display)
        assert all(VARIANT_CLASS[i.variant] == "non_covered" for i in c.fixtures)
        assert all(i.start < -1000 and i.end > c.duration + 1000 for i in c.display + c.fixtures)
        assert by_counter.setdefault((c.pharmacy_id, c.counter_id), (c.display, c.fixtures)) == (c.display, c.fixtures)


@pytest.mark.parametrize("seed", [7, 101, 404])
def test_customers_lay_their_goods_beside_what_lies_there_and_off_the_display(seed):
    for c in plan_bundle(seed, stocked=True).clusters:
        for s in c.settlements:
            for mine in s.shown:
                if VARIANT_CLASS[mine.variant] in ("card", "phone"):
                    continue
                assert mine.x + mine.width / 2 < DISPLAY_X[0], (s.settlement_id, mine)
                for lying in c.fixtures:
                    assert abs(mine.x - lying.x) >= (mine.width + lying.width) / 2, (s.settlement_id, mine)


def gm_table(expected, flags):
    got = {f["settlement_id"] for f in flags if f["kind"] == "goods_mismatch"}
    want = set(expected["goods_mismatch"])
    return len(want & got), len(got - want), len(want - got), got & set(expected["clean"])


@pytest.mark.slow
def test_a_stocked_bundle_raises_no_goods_swap_on_clean_sales(tmp_path, monkeypatch, capsys):
    from cli.main import main
    from sample_footage.generator import write_bundle
    from tests.sample_footage.test_bundle_accuracy import REVIEW_ONLY, print_table, score

    seed = 404
    bundle = tmp_path / "bundle"
    expected = write_bundle(bundle, seed, stocked=True)
    cameras = load_cameras(bundle / "cameras.yaml")
    assert cameras.defaults.display_zone == DISPLAY_ZONE and expected["stocked"] is True
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    monkeypatch.setenv("RXAUDIT_EVIDENCE_DIR", str(tmp_path / "evidence"))
    assert main(["audit", "--settlements", str(bundle / "settlements.csv"), "--videos", str(bundle / "videos"),
                 "--cameras", str(bundle / "cameras.yaml"), "--db", f"sqlite:///{tmp_path}/rx.db",
                 "--out", str(tmp_path / "flags.json")]) == 0
    flags = json.loads((tmp_path / "flags.json").read_text())["flags"]
    table = score(expected, flags)
    accused = {f["settlement_id"] for f in flags if f["kind"] not in REVIEW_ONLY}
    with capsys.disabled():
        print_table(seed, table, set(expected["clean"]) & accused)
        print(f"        goods_unclear (review only): {sorted(f['settlement_id'] for f in flags if f['kind'] in REVIEW_ONLY)}")
    tp, fp, fn, on_clean = gm_table(expected, flags)
    assert on_clean == set() and fp == 0 and fn == 0 and tp == len(expected["goods_mismatch"])
    assert all(fp == 0 and fn == 0 for _, fp, fn in table.values()), table
    assert not set(expected["clean"]) & accused
