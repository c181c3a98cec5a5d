from __future__ import annotations

from datetime import timedelta

import pytest

from audit.batch import plan_tasks
from audit.counter_audit import merge_windows
from tests.factories import T0, settlement


def w(a: float, b: float):
    return (T0 + timedelta(seconds=a), T0 + timedelta(seconds=b))


@pytest.mark.parametrize("bridge, spans", [
    (1.0, [w(0, 18), w(40, 58)]),          # windows that do not touch stay apart
    (60.0, [w(0, 58)]),                     # a 22 s gap between swipes is watched too
    (10.0, [w(0, 18), w(40, 58)]),
])
def test_merge_windows_bridges_short_gaps(bridge, spans):
    assert merge_windows([w(40, 58), w(0, 18)], bridge) == spans


def test_tasks_split_only_where_no_span_is_cut(make_settings):
    settings = make_settings(window_before_s=12, window_after_s=6, bridge_gap_s=60)
    swipes = [settlement(i, seconds=s) for i, s in enumerate([0, 30, 60, 200, 230, 600])]
    tasks = plan_tasks(swipes, settings, max_per_task=1)
    assert [[s.settlement_id for s in t] for t in tasks] == [["S0", "S1", "S2"], ["S3", "S4"], ["S5"]]
    other = [settlement(9, seconds=10, counter="C2")]
    assert len(plan_tasks(swipes + other, settings, max_per_task=100)) == 2  # one per counter
