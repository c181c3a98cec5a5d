"""bench-live end to end (slow: renders a sample bundle unless ``RXAUDIT_LIVE_SAMPLE`` names one): two
fake RTSP cameras, the recorder, a live worker and the server; every pushed settlement stored once and
done, each live flag reaching the SSE client, live flags equal to ``rxaudit audit``'s on the recorded
footage, every swipe checked within the issue's minute."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from recorder.fake_camera import missing

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    given = os.environ.get("RXAUDIT_LIVE_SAMPLE")
    if given:
        return Path(given)
    from sample_footage.generator import write_bundle

    out = tmp_path_factory.mktemp("bench-live") / "sample"
    write_bundle(out, 7)
    return out


def test_bench_live_two_counters(bundle, tmp_path, monkeypatch):
    if why := missing():
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    from benchmarks.live_run import run

    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", "bench-live-test-key-0123")
    args = argparse.Namespace(counters=2, minutes=1.5, bundle=bundle, seed=7, out=tmp_path / "bench", db=None,
                              workers=1, max_idle_s=5.0, lead_s=30.0, json=None, keep=False, laps=True,
                              swipe_window_s=25.0)
    result = run(args)
    assert result["settlements_pushed"] >= 3
    assert result["stored"] + result["refused"] == result["settlements_pushed"]
    assert result["stored"] == result["done"] and result["lost"] == 0
    assert result["live_equals_batch"], (result["only_live"], result["only_batch"])
    assert result["flagged_without_event"] == []
    assert result["swipe_to_done_s"]["n"] == result["done"]
    assert 0 < result["swipe_to_done_s"]["max"] <= 60  # the minute, at two counters
    assert result["cpu_s"]["live"] > 0 and result["cpu_s"]["record"] > 0


def test_busy_counters_swipe_at_a_busy_counters_rate(bundle):
    """bench-live's counters: each bundle counter in laps, its footage away from swipes cut: about one
    swipe per counter per 40 s (the issue's rate), every copy a settlement of its own."""
    from audit import live_rig

    cameras = live_rig.plan(bundle, lead_s=30, seconds=660, max_idle_s=None).cameras
    swipes, ids = 0, []
    for cam in cameras:
        p = live_rig.plan(bundle, lead_s=30, seconds=660, max_idle_s=5.0, only=cam, laps=True, swipe_window_s=25.0)
        timed = [(t, r) for t, r in p.settlements() if t <= 630]
        swipes += len(timed)
        ids += [r["settlement_id"] for _, r in timed]
        once = live_rig.plan(bundle, lead_s=30, seconds=660, max_idle_s=5.0, only=cam)
        assert len(timed) >= len([t for t, _ in once.settlements() if t <= 630])
    assert len(set(ids)) == len(ids)
    assert 1.2 <= swipes / len(cameras) / 10 <= 2.5  # per counter and minute
