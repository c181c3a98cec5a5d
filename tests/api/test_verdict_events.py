"""The cursor behind ``event: verdict``: every verdict once, a late commit below a gap still sent,
and a gap that never fills holds nothing back after the grace period."""

from __future__ import annotations

from datetime import UTC, datetime

from api.verdict_events import VerdictCursor
from database.verdict_feed import VerdictChange


def change(i: int) -> VerdictChange:
    return VerdictChange(i, 100 + i, "confirm", datetime(2026, 11, 20, tzinfo=UTC), "confirmed", "burst", "P", "A")


def ids(changes: list[VerdictChange]) -> list[int]:
    return [c.verdict_id for c in changes]


def test_each_verdict_once_and_a_late_commit_is_not_skipped():
    cursor = VerdictCursor(0, grace_s=10)
    assert ids(cursor.take([change(1), change(2), change(4)], now=0)) == [1, 2, 4]  # 3 not committed yet
    assert cursor.floor == 2
    assert ids(cursor.take([change(4)], now=1)) == []  # not twice
    assert ids(cursor.take([change(3), change(4), change(5)], now=2)) == [3, 5]  # the late one
    assert cursor.floor == 5


def test_a_gap_that_never_fills_moves_the_floor_after_the_grace():
    cursor = VerdictCursor(0, grace_s=10)
    assert ids(cursor.take([change(2), change(3)], now=0)) == [2, 3]
    assert cursor.floor == 0
    assert ids(cursor.take([change(2), change(3)], now=5)) == [] and cursor.floor == 0
    assert ids(cursor.take([change(2), change(3), change(4)], now=11)) == [4]
    assert cursor.floor == 4
