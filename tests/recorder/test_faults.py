"""Faults against real RTSP cameras: a camera pulled mid-segment and plugged back, one that comes
back at another resolution, the recorder killed with SIGKILL and restarted, a full disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from database.engine import make_engine, migrate, session_factory
from database.models import CameraGapRow
from recorder.reader import RecorderOptions
from recorder.segments import ASIDE
from recorder.supervisor import NOT_RUNNING, Recorder
from tests.recorder.conftest import camera, probe, segments, wait_for

FAST = RecorderOptions(segment_s=4, stall_s=3, open_s=6, backoff_min_s=0.5, backoff_max_s=2, health_every_s=0.5)


def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/rec.db")
    migrate(engine)
    return session_factory(engine)


def gaps(factory) -> list[CameraGapRow]:
    with factory() as session:
        return list(session.scalars(select(CameraGapRow).order_by(CameraGapRow.start)))


def all_playable(root: Path, counter: str = "C1") -> list[tuple[float, int, int, int]]:
    return [probe(p) for p in segments(root, counter=counter)]


def test_camera_killed_mid_segment_then_back(tmp_path, cameras_up, footage):
    cam = cameras_up()
    factory, root = db(tmp_path), tmp_path / "store"
    recorder = Recorder([camera(cam.url())], root, FAST, factory)
    recorder.start()
    try:
        assert wait_for(lambda: len(segments(root)) >= 2, 25)
        time.sleep(FAST.segment_s / 2)  # mid-segment
        before = len(segments(root))
        cam.kill()
        assert wait_for(lambda: recorder.snapshots()[0].state == "offline", 10)
        # the half segment recorded before the camera went is closed and kept, complete
        assert wait_for(lambda: len(segments(root)) == before + 1, 5)
        time.sleep(3)
        back = time.monotonic()
        cam.start()
        assert wait_for(lambda: recorder.snapshots()[0].state == "recording", 20)
        again_s = time.monotonic() - back
        assert wait_for(lambda: len(segments(root)) >= before + 3, 20)
    finally:
        recorder.stop()
    assert again_s <= 15, f"recording again {again_s:.1f} s after the camera came back"
    probes = all_playable(root)
    short = [d for d, *_ in probes if abs(d - FAST.segment_s) > 0.2]
    assert len(short) <= 2, probes  # the one cut by the camera, the one cut by stopping
    assert all(frames > 0 for _, frames, _, _ in probes)
    (gap,) = gaps(factory)
    assert gap.end is not None and 3 <= (gap.end - gap.start).total_seconds() <= 3 + again_s + 3
    assert gap.reason in ("the stream ended", f"no frame for {FAST.stall_s:g} s") or "cannot read" in gap.reason


def test_camera_back_at_another_resolution(tmp_path, cameras_up, footage):
    cam = cameras_up({"cam0": footage["long"]})
    root = tmp_path / "store"
    recorder = Recorder([camera(cam.url())], root, FAST, db(tmp_path))
    recorder.start()
    try:
        assert wait_for(lambda: len(segments(root)) >= 2, 25)
        cam.kill()
        smaller = cameras_up({"cam0": footage["small"]}, port=cam.port)
        assert smaller.port == cam.port
        assert wait_for(lambda: recorder.snapshots()[0].width == 320, 25)
        n = len(segments(root))
        assert wait_for(lambda: len(segments(root)) >= n + 2, 20)
    finally:
        recorder.stop()
    sizes = [(w, h) for _, frames, w, h in all_playable(root) if frames]
    assert sizes[0] == (640, 360) and sizes[-1] == (320, 180)
    assert sorted(set(sizes)) == [(320, 180), (640, 360)]
    i = sizes.index((320, 180))
    assert set(sizes[i:]) == {(320, 180)}, "no segment mixes the two"
    assert recorder.snapshots()[0].width == 320


def _record(tmp_path: Path, cams_yaml: Path, root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "record", "--cameras", str(cams_yaml), "--videos", str(root),
         "--db", f"sqlite:///{tmp_path}/rec.db", "--segment-s", "4", "--stall-s", "3",
         "--evidence-dir", str(tmp_path / "evidence")],  # its snapshots, not the checkout's evidence/
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_recorder_killed_with_sigkill_leaves_nothing_half_written_and_carries_on(tmp_path, cameras_up):
    cam = cameras_up()
    cams_yaml = tmp_path / "cameras.yaml"
    cams_yaml.write_text(f"pharmacies:\n  P1:\n    counters:\n      C1: {{stream: '{cam.url()}'}}\n",
                         encoding="utf-8")
    root = tmp_path / "store"
    first = _record(tmp_path, cams_yaml, root)
    try:
        assert wait_for(lambda: len(segments(root)) >= 2, 40), first.stdout.read() if first.poll() else ""
        parts = wait_for(lambda: [p for p in (root / ASIDE).rglob("*.part") if p.stat().st_size > 0], 5)
        assert parts, "a segment is being written aside"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = datetime.now().astimezone()
    left = [p for p in (root / ASIDE).rglob("*.part")]
    assert left, "the killed recorder's segment in progress stayed aside, out of the store"
    shown = segments(root)
    assert all(abs(d - 4) <= 0.2 and frames == 40 for d, frames, *_ in all_playable(root)), \
        "every segment the store shows is complete"
    time.sleep(2)
    second = _record(tmp_path, cams_yaml, root)
    try:
        assert wait_for(lambda: len(segments(root)) >= len(shown) + 2, 40)
    finally:
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=20)
    assert second.returncode == 0, out
    assert not any(p.exists() for p in left), "what the killed recorder left aside is removed"
    assert not list((root / ASIDE).rglob("*.part")), "a stopped recorder closes its last segment"
    assert all(frames > 0 for _, frames, *_ in all_playable(root))
    factory = session_factory(make_engine(f"sqlite:///{tmp_path}/rec.db"))
    (gap,) = gaps(factory)
    assert gap.reason == NOT_RUNNING and gap.start <= killed_at and gap.end is not None
    assert 2 <= (gap.end - gap.start).total_seconds() <= 30


def _tmpfs(path: Path, size_kb: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def test_full_disk_is_a_clear_error_and_recording_resumes_when_space_returns(tmp_path, cameras_up, footage):
    root = tmp_path / "small-disk"
    if not _tmpfs(root, 2048):
        pytest.skip("a full disk needs a small tmpfs: mounting one needs root (CAP_SYS_ADMIN)")
    try:
        cam = cameras_up({"cam0": footage["long"], "cam1": footage["long"]})  # a mount per counter
        factory = db(tmp_path)
        recorder = Recorder([camera(cam.url("cam0"), counter="C1"), camera(cam.url("cam1"), counter="C2")], root,
                            FAST, factory)
        recorder.start()
        try:
            assert wait_for(lambda: len(segments(root, counter="C1")) >= 1, 25)
            ballast = root / "ballast"
            with open(ballast, "wb") as handle:  # fill the disk
                try:
                    while True:
                        handle.write(b"\0" * 65536)
                        handle.flush()
                except OSError:
                    pass
            states = wait_for(lambda: {s.state for s in recorder.snapshots()} == {"store_failing"}, 20)
            assert states, recorder.snapshots()
            assert all(s.detail == "cannot write the store: no space left on the store's disk"
                       for s in recorder.snapshots())
            assert all(r.is_alive() for r in recorder.readers.values())
            full = {c: len(segments(root, counter=c)) for c in ("C1", "C2")}
            ballast.unlink()  # space returns
            assert wait_for(lambda: all(len(segments(root, counter=c)) >= full[c] + 2 for c in full), 30)
            assert {s.state for s in recorder.snapshots()} == {"recording"}
        finally:
            recorder.stop()
        for counter in ("C1", "C2"):
            assert all(frames > 0 for _, frames, *_ in all_playable(root, counter)), "nothing broken shown"
        reasons = {g.reason for g in gaps(factory)}
        assert "cannot write the store: no space left on the store's disk" in reasons
        assert all(g.end is not None for g in gaps(factory))
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)
