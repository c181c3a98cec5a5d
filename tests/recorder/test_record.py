"""The recorder against real RTSP cameras: complete segments cut at keyframes, copied without
re-encoding, named from the recorder's clock, nothing half-written in the store; health and gaps."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from sqlalchemy import select

from database.engine import make_engine, migrate, session_factory
from database.models import CameraGapRow, CameraHealthRow
from ingest.video_store import LocalVideoStore, parse_segment_name
from recorder.fake_camera import SilentCamera
from recorder.reader import RecorderOptions
from recorder.segments import ASIDE
from recorder.supervisor import Recorder
from tests.recorder.conftest import camera, probe, segments, wait_for

FAST = RecorderOptions(segment_s=4, stall_s=3, open_s=6, backoff_min_s=0.5, backoff_max_s=2, health_every_s=0.5)


def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/rec.db")
    migrate(engine)
    return session_factory(engine)


def test_segments_are_complete_copies_cut_at_keyframes(tmp_path, cameras_up, footage):
    cam = cameras_up({"cam0": footage["long"]})
    root = tmp_path / "store"
    recorder = Recorder([camera(cam.url())], root, FAST, db(tmp_path))
    before = datetime.now().astimezone()
    recorder.start()
    try:
        assert wait_for(lambda: len(segments(root)) >= 3, 25), "three segments within 25 s"
        # while recording: every file the store shows is complete (decodes whole), the one being
        # written lies aside
        aside = list((root / ASIDE).rglob("*.part"))
        assert aside, "the segment in progress is written aside"
        for path in segments(root):
            duration, frames, width, height = probe(path)
            assert abs(duration - FAST.segment_s) <= 0.2 and frames == 40 and (width, height) == (640, 360)
    finally:
        recorder.stop()
    names = segments(root)
    starts = [parse_segment_name(p.name) for p in names]
    assert all(s is not None and s.utcoffset().total_seconds() == 8 * 3600 for s in starts)
    assert before.replace(microsecond=0) <= starts[0] <= before.replace(microsecond=0) + (starts[1] - starts[0]) * 2
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    assert all(abs(g - FAST.segment_s) <= 1.0 for g in gaps), gaps  # back to back, one second names
    assert not list((root / ASIDE).rglob("*.part")), "nothing left aside after a clean stop"
    # the audit's store reads them
    listed = LocalVideoStore(root).list_segments("P1", "C1")
    assert [s.start for s in listed] == starts
    # the stream is copied, not re-encoded: the segment's packets are the camera file's, byte for
    # byte (keyframes with the parameter sets the camera repeats in front of them)
    import av
    with av.open(str(footage["long"])) as src, av.open(str(names[1])) as seg:
        source = [p for p in src.demux(src.streams.video[0]) if p.size]
        copied = [p for p in seg.demux(seg.streams.video[0]) if p.size]
    deltas = {bytes(p) for p in source if not p.is_keyframe}
    keys = [bytes(p) for p in source if p.is_keyframe]
    assert all(bytes(p) in deltas for p in copied if not p.is_keyframe)
    assert all(any(bytes(p).endswith(k) for k in keys) for p in copied if p.is_keyframe)
    assert sum(p.is_keyframe for p in copied) == FAST.segment_s  # one a second, as the camera sends them

def test_health_is_stored(tmp_path, cameras_up):
    cam = cameras_up()
    factory = db(tmp_path)
    recorder = Recorder([camera(cam.url())], tmp_path / "store", FAST, factory)
    recorder.start()
    try:
        def recording():
            with factory() as session:
                row = session.get(CameraHealthRow, ("P1", "C1"))
                return row if row is not None and row.state == "recording" and row.fps else None
        row = wait_for(recording, 20)
    finally:
        recorder.stop()
    assert row is not None
    assert 8 <= row.fps <= 12 and row.bitrate_kbps > 10 and (row.width, row.height) == (640, 360)
    assert row.last_frame_at is not None and row.stream == cam.url()


def test_a_camera_that_never_answers_hangs_nothing(tmp_path, cameras_up):
    """One camera accepts the connection and never sends a byte; the other records on as if alone."""
    silent = SilentCamera()
    cam = cameras_up()
    factory = db(tmp_path)
    root = tmp_path / "store"
    recorder = Recorder([camera(cam.url(), counter="C1"), camera(silent.url(), counter="C2")], root, FAST, factory)
    recorder.start()
    try:
        assert wait_for(lambda: len(segments(root, counter="C1")) >= 3, 25)
        snaps = {s.key: s for s in recorder.snapshots()}
        assert snaps["P1/C2"].state in ("offline", "stalled"), snaps["P1/C2"]
        assert "no answer" in (snaps["P1/C2"].detail or "") or "no frame" in (snaps["P1/C2"].detail or "")
        assert recorder.readers["P1/C2"].sessions >= 2, "reopened with backoff"
        assert silent.accepted, "it did connect"
        assert recorder.replaced == 0, "every wait was bounded: the watchdog had nothing to do"
    finally:
        started = time.monotonic()
        recorder.stop()
        silent.close()
    assert time.monotonic() - started < FAST.open_s + 3, "stopping does not wait on the silent camera"
    for path in segments(root, counter="C1")[:-1]:  # the last one ends where the recorder stopped
        assert abs(probe(path)[0] - FAST.segment_s) <= 0.2
    assert segments(root, counter="C2") == []
    with factory() as session:
        row = session.get(CameraHealthRow, ("P1", "C2"))
        assert row.state in ("offline", "stalled") and row.last_frame_at is None
        gap = session.scalars(select(CameraGapRow).where(CameraGapRow.counter_id == "C2")).one()
        assert gap.end is None and gap.reason.startswith(("no answer", "connected, but no frame"))


def test_h265_is_copied_too(tmp_path, cameras_up, rtsp_available):
    from recorder.fake_camera import back_to_back, counter_footage

    clip = counter_footage(tmp_path / "clip.mp4", 10, codec="libx265")
    cam = cameras_up({"cam0": back_to_back(clip, tmp_path / "long.h265.mp4", 4)})
    root = tmp_path / "store"
    recorder = Recorder([camera(cam.url())], root, FAST, db(tmp_path))
    recorder.start()
    try:
        assert wait_for(lambda: len(segments(root)) >= 2, 30)
    finally:
        recorder.stop()
    import av
    for path in segments(root)[:-1]:
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.name == "hevc"
        duration, frames, width, height = probe(path)
        assert abs(duration - FAST.segment_s) <= 0.2 and (width, height) == (640, 360)
