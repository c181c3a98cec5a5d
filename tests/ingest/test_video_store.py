from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ingest.video_store import LocalVideoStore, candidates, parse_segment_name, segment_name
from rxaudit.domain import Segment
from rxaudit.errors import FootageMissing, StoreError

TZ = timezone(timedelta(hours=8))


@pytest.mark.parametrize("name, expected", [
    ("20261120T100000+0800.mp4", datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)),
    ("20261120T235959-0130.mkv", datetime(2026, 11, 20, 23, 59, 59, tzinfo=timezone(-timedelta(hours=1, minutes=30)))),
    ("20261120T100000.mp4", None),
    ("20261320T100000+0800.mp4", None),
    ("notes.txt", None),
])
def test_parse_segment_name(name, expected):
    assert parse_segment_name(name) == expected


def test_segment_name_round_trips():
    t = datetime(2026, 11, 20, 9, 5, 7, tzinfo=TZ)
    assert parse_segment_name(segment_name(t)) == t


def test_candidates_take_the_last_segment_before_and_those_inside():
    t0 = datetime(2026, 11, 20, 10, tzinfo=TZ)
    segs = [Segment("P", "C", t0 + timedelta(minutes=m), f"u{m}") for m in (0, 1, 2, 5)]
    got = candidates(segs, t0 + timedelta(seconds=90), t0 + timedelta(seconds=150))
    assert [s.uri for s in got] == ["u1", "u2"]


@pytest.fixture
def store(tmp_path):
    folder = tmp_path / "videos" / "P1" / "C1"
    folder.mkdir(parents=True)
    (folder / "20261120T100000+0800.mp4").write_bytes(b"x")
    (folder / "readme.txt").write_text("not a segment")
    (tmp_path / "secret.txt").write_text("outside")
    return LocalVideoStore(tmp_path / "videos")


def test_lists_only_segments(store):
    (seg,) = store.list_segments("P1", "C1")
    assert seg.uri == "P1/C1/20261120T100000+0800.mp4"
    assert store.has_counter("P1", "C1") and not store.has_counter("P1", "C9")
    assert store.list_segments("P1", "C9") == []


@pytest.mark.parametrize("uri", ["../secret.txt", "/etc/passwd", "P1/../../secret.txt"])
def test_paths_never_escape_the_store(store, uri):
    with pytest.raises(StoreError, match="escapes"):
        store.open(uri)


@pytest.mark.parametrize("pharmacy", ["..", "a/b", "x y"])
def test_unsafe_ids_are_not_counters(store, pharmacy):
    assert not store.has_counter(pharmacy, "C1")
    with pytest.raises(StoreError):
        store.list_segments(pharmacy, "C1")


def test_missing_segment_is_footage_missing(store):
    with pytest.raises(FootageMissing):
        store.open("P1/C1/20261120T110000+0800.mp4")


def test_store_root_must_exist(tmp_path):
    with pytest.raises(StoreError):
        LocalVideoStore(tmp_path / "nope")
