"""A bundle counter played in laps (bench-live's busy counters): lap n shows at w + n * length what lap 0
shows at w; each lap's settlements are copies of their own (id, card, traceability codes), inside the
footage; a plan without laps is the bundle once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audit.live_rig import REF, Plan
from rxaudit.errors import InputError
from sample_footage.replay import BundleLog, BundleSettlement, Laps, Replay, lap_record

DAY = datetime(2026, 11, 12, 9, 0, 0, tzinfo=UTC)
RECORD = {"settlement_id": "ST1", "pharmacy_id": "PH1", "counter_id": "C1", "settled_at": DAY.isoformat(),
          "card_id": "6222021234567890", "amount": "9.50",
          "items": [{"item_code": "86900001", "quantity": "1", "trace_codes": ["81274178413559544585"]}]}


def test_lap_n_shows_what_lap_0_shows():
    inner = Replay.plan(DAY, REF + timedelta(seconds=30))
    laps = Laps(inner, REF, timedelta(seconds=100))
    for w in (0.0, 29.5, 30.0, 71.25, 99.9):
        for n in (1, 2, 7):
            at = REF + timedelta(seconds=w)
            assert laps.bundle(at + n * timedelta(seconds=100)) == inner.bundle(at)
    assert laps.wall(DAY) == inner.wall(DAY) == REF + timedelta(seconds=30)
    with pytest.raises(InputError):
        Laps(inner, REF, timedelta(0))


@pytest.mark.parametrize("lap", [1, 2, 42, 99])
def test_a_laps_copy_is_a_settlement_of_its_own(lap):
    copy = lap_record(RECORD, lap)
    assert copy["settlement_id"] == f"ST1L{lap}" and copy["pharmacy_id"] == "PH1"
    assert copy["card_id"] != RECORD["card_id"] and len(copy["card_id"]) == len(RECORD["card_id"])
    assert copy["items"][0]["trace_codes"][0] != RECORD["items"][0]["trace_codes"][0]
    assert RECORD["items"][0]["trace_codes"] == ["81274178413559544585"]  # the source untouched
    others = {lap_record(RECORD, k)["card_id"] for k in range(1, 100) if k != lap}
    assert copy["card_id"] not in others | {RECORD["card_id"]}


@pytest.mark.parametrize("lap", [-1, 100])
def test_laps_are_bounded(lap):
    with pytest.raises(InputError):
        lap_record(RECORD, lap)


def test_a_plan_in_laps_swipes_all_the_time():
    swipes = [BundleSettlement(DAY + timedelta(seconds=s), dict(RECORD, settlement_id=f"ST{s}")) for s in (0, 20, 40)]
    inner = Replay.plan(DAY, REF + timedelta(seconds=30))
    once = Plan(bundle=None, seed=1, cameras=[], log=BundleLog(swipes, []), replay=inner, lead_s=30, seconds=600,
                max_idle_s=5)
    assert [t for t, _ in once.settlements()] == [30.0, 50.0, 70.0] and once.lap_s is None
    laps = Plan(bundle=None, seed=1, cameras=[], log=BundleLog(swipes, []), replay=Laps(inner, REF, timedelta(seconds=75)),
                lead_s=30, seconds=600, max_idle_s=5)
    timed = laps.settlements()
    assert [t for t, _ in timed][:6] == [30.0, 50.0, 70.0, 105.0, 125.0, 145.0]
    assert all(t <= 600 - 15 for t, _ in timed) and len(timed) == 3 * 8 - 1  # lap 7's last swipe at 595 s: cut
    ids = [r["settlement_id"] for _, r in timed]
    assert len(set(ids)) == len(ids) and ids[3] == "ST0L1"
    assert laps.key != once.key and "lap75" in laps.key
