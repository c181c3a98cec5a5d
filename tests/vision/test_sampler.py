from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ingest.video_store import LocalVideoStore, segment_name
from tests.videos import frame_index, make_clip
from vision.sampler import sample_window

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)


def seg(root, start: datetime, seconds: float, **kw):
    return make_clip(root / "P1" / "C1" / segment_name(start), seconds, **kw)


@pytest.fixture
def store(tmp_path):
    return LocalVideoStore(tmp_path)


def window(store, start_s: float, end_s: float, fps: float = 2.0):
    segments = store.list_segments("P1", "C1")
    return sample_window(store, segments, T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s), fps)


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_samples_the_window_at_the_requested_rate_after_a_seek(store, tmp_path, codec):
    seg(tmp_path, T0, 15, codec=codec)
    got = window(store, 8.0, 11.0)
    assert [(f.t - T0).total_seconds() for f in got.frames] == [8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 11.0]
    assert [frame_index(f.image) for f in got.frames] == [80, 85, 90, 95, 100, 105, 110]
    assert got.problems == []
    assert got.decoded_s < 6  # decoded from the keyframe before 8 s, not from the start


def test_window_across_two_segments_with_a_gap(store, tmp_path):
    seg(tmp_path, T0, 5)
    seg(tmp_path, T0 + timedelta(seconds=8), 5)
    got = window(store, 3.0, 10.0)
    times = [(f.t - T0).total_seconds() for f in got.frames]
    # the first segment ends with a frame at 4.9 s: not a sample of 5.0 s
    assert times == [3.0, 3.5, 4.0, 4.5, 8.0, 8.5, 9.0, 9.5, 10.0]


def test_window_after_the_last_segment_has_no_frames(store, tmp_path):
    seg(tmp_path, T0, 5)
    got = window(store, 30.0, 40.0)
    assert got.frames == [] and got.problems == []


def test_garbage_file_is_reported_not_raised(store, tmp_path):
    path = tmp_path / "P1" / "C1" / segment_name(T0)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00not a video" * 1000)
    got = window(store, 1.0, 3.0)
    assert got.frames == [] and "unreadable" in got.problems[0]


def test_truncated_file_gives_the_frames_before_the_cut_only(store, tmp_path):
    path = seg(tmp_path, T0, 20)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    got = window(store, 1.0, 18.0)
    assert got.problems and "truncated or corrupt" in got.problems[0]
    assert all((f.t - T0).total_seconds() < 8 for f in got.frames)
