"""What the recorder keeps beside the segments, against real RTSP cameras: the camera's own clock from
its RTCP sender reports (a camera whose clock is ahead is measured ahead), and the wall's latest
picture of each counter (a small JPEG replaced atomically every snapshot_s, with its time)."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import select

from cli.main import main
from database.cameras import clock_readings
from database.engine import make_engine, migrate, session_factory
from database.models import CameraClockRow
from ingest.video_store import parse_segment_name
from recorder.fake_camera import RtspCamera
from recorder.reader import RecorderOptions
from recorder.snapshots import latest_snapshot, snapshot_path, write_snapshot
from recorder.supervisor import Recorder
from recorder.tamper import TamperOptions
from rxaudit.errors import StoreError
from tests.recorder.conftest import camera, segments, wait_for


def options(**changes) -> RecorderOptions:
    base = dict(segment_s=3, stall_s=3, open_s=6, backoff_min_s=0.5, backoff_max_s=2, health_every_s=0.5,
                tamper=None)
    return RecorderOptions(**{**base, **changes})


def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/rec.db")
    migrate(engine)
    return session_factory(engine)


def test_the_cameras_own_clock_is_read_from_rtcp_sender_reports(tmp_path, footage, capsys):
    """Two cameras: one whose clock runs with this machine's, one 37.5 s ahead (its sender reports
    say so); the recorder stores each one's camera-minus-recorder offset."""
    factory = db(tmp_path)
    with RtspCamera({"cam0": footage["long"]}) as right, \
            RtspCamera({"cam0": footage["long"]}, clock_offset_s=37.5) as ahead:
        recorder = Recorder([camera(right.url(), counter="C1"), camera(ahead.url(), counter="C2")],
                            tmp_path / "store", options(), factory)
        recorder.start()
        try:
            def both():
                with factory() as session:
                    return {r.counter_id for r in session.scalars(select(CameraClockRow))} == {"C1", "C2"}
            assert wait_for(both, 30), "a reading per camera once a segment is complete"
        finally:
            recorder.stop()
    with factory() as session:
        got = {r.counter_id: r for r in clock_readings(session, pharmacy_id="P1")}
    # a test camera sends each frame up to ~0.4 s before its own time for it (GStreamer's latency)
    assert -1.0 <= got["C1"].camera_minus_recorder_s <= 1.0, got["C1"].camera_minus_recorder_s
    assert 36.5 <= got["C2"].camera_minus_recorder_s <= 38.5, got["C2"].camera_minus_recorder_s
    assert got["C2"].source == "rtcp"
    assert abs((got["C2"].at - datetime.now(UTC)).total_seconds()) < 60  # the recorder's time, not the camera's
    # rxaudit clocks shows it per counter and day (beside the on-screen clock where there are swipes)
    assert main(["clocks", "--db", f"sqlite:///{tmp_path}/rec.db"]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("P1/C2"))
    assert f"camera clock (RTCP sender reports) minus recorder: {got['C2'].camera_minus_recorder_s:+.1f} s" in line
    assert main(["clocks", "--db", f"sqlite:///{tmp_path}/rec.db", "--json", "-", "--counter", "C2"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["camera_clock"]
    assert entry["counter_id"] == "C2" and entry["readings"] >= 1 and 36.5 <= entry["camera_minus_recorder_s"] <= 38.5
    starts = [parse_segment_name(p.name) for p in segments(tmp_path / "store", counter="C2")]
    assert starts and all(abs((s - datetime.now(UTC)).total_seconds()) < 60 for s in starts), \
        "segments are still named from the recorder's clock"


def test_the_wall_gets_a_fresh_snapshot_of_each_counter(tmp_path, cameras_up):
    cam = cameras_up()
    shots = tmp_path / "snapshots"
    recorder = Recorder([camera(cam.url())], tmp_path / "store",
                        options(snapshot_dir=shots, snapshot_s=2, tamper=TamperOptions(every_s=5)))
    assert latest_snapshot(shots, "P1", "C1") is None
    started = time.monotonic()
    recorder.start()
    try:
        first = wait_for(lambda: latest_snapshot(shots, "P1", "C1"), 20)
        assert first is not None and first.path == shots / "P1" / "C1.jpg"
        times = {first.at}
        end = time.monotonic() + 10
        while time.monotonic() < end:  # the refreshes over 10 s
            times.add(latest_snapshot(shots, "P1", "C1").at)
            time.sleep(0.1)
        assert 4 <= len(times) - 1 <= 7, sorted(times)  # every 2 s of the stream (keyframes a second apart)
        second = latest_snapshot(shots, "P1", "C1")
        assert abs((second.at - datetime.now(UTC)).total_seconds()) < 4
        with Image.open(io.BytesIO(second.path.read_bytes())) as image:
            assert image.format == "JPEG" and image.size == (640, 360)
        assert second.path.stat().st_size < 100_000
        # one keyframe decoded per snapshot (of 10 frames a second, 1 a second keyframes), no more: the
        # tamper checks (every 5 s) look at a snapshot's keyframe
        looks = recorder.readers["P1/C1"].looks
        assert looks.decoded == looks.snapshots <= (time.monotonic() - started) / 2 + 3
        assert looks.watch.reference is not None or len(looks.watch._learning) >= 2, "the tamper checks looked"

    finally:
        recorder.stop()
    assert not [p for p in shots.rglob("*") if p.name.endswith(".tmp")], "nothing half-written left"


def test_a_snapshot_is_replaced_atomically(tmp_path):
    """A reader polling while the recorder replaces the picture sees a whole JPEG every time."""
    big = Image.new("RGB", (640, 360), (200, 30, 30))
    small = Image.new("RGB", (64, 36), (30, 200, 30))
    pictures = []
    for image in (big, small):
        out = io.BytesIO()
        image.save(out, format="JPEG")
        pictures.append(out.getvalue())
    at = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    write_snapshot(tmp_path, "P1", "C1", pictures[0], at)
    done = threading.Event()
    seen = []

    def poll():
        while not done.is_set():
            data = snapshot_path(tmp_path, "P1", "C1").read_bytes()
            seen.append(data in pictures)

    reader = threading.Thread(target=poll)
    reader.start()
    for k in range(300):
        write_snapshot(tmp_path, "P1", "C1", pictures[k % 2], at)
    done.set()
    reader.join()
    assert seen and all(seen)
    assert latest_snapshot(tmp_path, "P1", "C1").at == at
    assert latest_snapshot(tmp_path, "P1", "C9") is None
    with pytest.raises(StoreError):
        latest_snapshot(tmp_path, "..", "C1")
