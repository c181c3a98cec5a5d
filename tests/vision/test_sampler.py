from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ingest.video_store import LocalVideoStore, segment_name
from tests.videos import frame_index, make_clip
from vision.sampler import (FrameStream, PixelDemand, SampledFrame, SamplingPlan, _Decoder, dense_intervals,
                            sample_window)

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


def plan_window(store, start_s, end_s, dense, fps=1.0, dense_fps=4.0, keyframes_only=True):
    segments = store.list_segments("P1", "C1")
    intervals = tuple((T0.timestamp() + a, T0.timestamp() + b) for a, b in dense)
    return sample_window(store, segments, T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s),
                         fps, keyframes_only=keyframes_only, dense=intervals, dense_fps=dense_fps)


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_dense_near_the_swipe_keyframes_elsewhere(store, tmp_path, codec, monkeypatch):
    seg(tmp_path, T0, 20, codec=codec, gop=10)
    decoded = []
    original = _Decoder.next

    def counting(self):
        item = original(self)
        if item is not None:
            decoded.append(item[1])
        return item

    monkeypatch.setattr(_Decoder, "next", counting)
    got = plan_window(store, 2.0, 18.0, dense=[(9.0, 11.0)])
    times = [(f.t - T0).total_seconds() for f in got.frames]
    assert times == [2, 3, 4, 5, 6, 7, 8, 9, 9.25, 9.5, 9.75, 10, 10.25, 10.5, 10.75, 11,
                     12, 13, 14, 15, 16, 17, 18]
    assert [f.dense for f in got.frames] == [t != int(t) for t in times]
    # inside the dense interval every frame is decoded: each grid time gets the frame at it; outside
    # it a keyframe within half a step stands for the grid time
    for f, t in zip(got.frames, times):
        if 9 <= t <= 11:
            assert abs(frame_index(f.image) / 10 - t) <= 0.05 + 1e-6  # the nearest frame (10 fps)
        else:
            assert abs(frame_index(f.image) / 10 - t) <= 0.5
    assert len(decoded) < 60  # keyframes outside the dense interval, not all 160 frames
    assert got.problems == []


def test_sparse_keyframes_fall_back_to_every_frame(store, tmp_path):
    make_clip(tmp_path / "P1" / "C1" / segment_name(T0), 20, gop=30)  # a keyframe every 3 s
    got = plan_window(store, 2.0, 12.0, dense=[])
    times = [(f.t - T0).total_seconds() for f in got.frames]
    assert times == [float(t) for t in range(2, 13)]
    assert [frame_index(f.image) for f in got.frames] == [t * 10 for t in range(2, 13)]


def test_frames_stream_as_they_are_decoded(store, tmp_path):
    seg(tmp_path, T0, 30)
    stream = FrameStream(store, store.list_segments("P1", "C1"), T0, T0 + timedelta(seconds=29),
                         SamplingPlan(2.0))
    it = iter(stream)
    first = next(it)
    assert (first.t - T0).total_seconds() == 0.0
    assert stream.decoded_s < 5  # nothing beyond the first frames decoded yet
    assert len([first, *it]) == 59


def test_dense_intervals_merge_overlaps():
    swipes = [T0 + timedelta(seconds=s) for s in (10, 14, 30)]
    got = dense_intervals(swipes, 3.0)
    base = T0.timestamp()
    assert [(a - base, b - base) for a, b in got] == [(7, 17), (27, 33)]


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_keyframes_the_consumer_will_not_look_at_are_not_decoded(store, tmp_path, codec, monkeypatch):
    """Outside the dense interval a keyframe is decoded only when ``PixelDemand`` says the consumer
    will look at it; the others come with their time and size but no pixels."""
    seg(tmp_path, T0, 20, codec=codec, gop=10)
    decoded = []
    original = _Decoder.decode_key

    def counting(self, packet):
        frame = original(self, packet)
        decoded.append(frame)
        return frame

    monkeypatch.setattr(_Decoder, "decode_key", counting)
    asked = []

    def odd_seconds_unseen(t):
        asked.append((t - T0).total_seconds())
        return int((t - T0).total_seconds()) % 2 == 0

    demand = PixelDemand()
    demand.ask = odd_seconds_unseen
    intervals = ((T0.timestamp() + 9.0, T0.timestamp() + 11.0),)
    stream = FrameStream(store, store.list_segments("P1", "C1"), T0 + timedelta(seconds=2),
                         T0 + timedelta(seconds=16), SamplingPlan(1.0, keyframes_only=True, dense=intervals),
                         demand)
    got = list(stream)
    times = [(f.t - T0).total_seconds() for f in got]
    assert times == [2, 3, 4, 5, 6, 7, 8, 9, 9.25, 9.5, 9.75, 10, 10.25, 10.5, 10.75, 11,
                     12, 13, 14, 15, 16]
    # asked for base frames outside the dense interval only (9 s, its start, is a keyframe before it)
    assert asked == [2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16]
    for f, t in zip(got, times):
        assert f.size == (160, 96)
        if 9 < t <= 11 or t == int(t) and int(t) % 2 == 0:
            assert f.has_pixels and abs(frame_index(f.image) / 10 - t) <= 0.5
        else:
            assert not f.has_pixels
            with pytest.raises(LookupError):
                f.image
    assert len(decoded) == 7 and all(frame is not None for frame in decoded)  # 2, 4, 6, 8, 12, 14, 16
    assert stream.problems == []


def test_frames_without_pixels_need_a_size():
    with pytest.raises(ValueError):
        SampledFrame(T0, None, "seg", 0.0)
    assert SampledFrame(T0, None, "seg", 0.0, size=(640, 360)).size == (640, 360)
