"""Tamper: the checks on real pixels (the test footage: Intel sample videos, CC BY 4.0) and a real
RTSP camera whose lens is covered for a while: the state tampered with its span, recording on."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image
from sqlalchemy import select

from database.engine import make_engine, migrate, session_factory
from database.models import CameraGapRow, CameraTamperRow
from recorder.fake_camera import counter_footage
from recorder.reader import RecorderOptions
from recorder.supervisor import Recorder
from recorder.tamper import Tamper, TamperOptions, TamperWatch, condition, similarity
from sample_footage.scene import Appearance, Backdrop, render
from tests.recorder.conftest import camera, segments, wait_for

DATA = Path(__file__).resolve().parents[1] / "data" / "footage"
T = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def thumb(rgb: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (64, 36), interpolation=cv2.INTER_AREA)


def real_frames(name: str, n: int = 3) -> list[np.ndarray]:
    with av.open(str(DATA / name)) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(400), container.decode(video=0))]
    return [thumb(frames[i * (len(frames) - 1) // (n - 1)]) for i in range(n)]


def counter(people: list[Appearance], t: float = 5.0) -> np.ndarray:
    cashier = Appearance("cashier", -1e5, 1e5, 565, depth=0.3)
    return thumb(render(Backdrop(random.Random(1)), [cashier, *people], t, 10, T, ()))


def test_the_same_view_with_people_is_not_turned_another_view_is():
    reference = counter([], 1.0)
    busy = counter([Appearance("male", 0, 100, 200), Appearance("female", 0, 100, 320)])
    options = TamperOptions()
    assert similarity(busy, reference) > options.turned_similarity
    assert condition(busy, None, reference, options) is None
    for name in ("bottle-detection.mp4", "store-aisle-detection.gif"):
        first, *_, last = real_frames(name)
        assert similarity(first, last) > 0.6, "a real scene over time (people moving) stays itself"
        assert condition(first, None, reference, options) == Tamper.TURNED  # another place entirely
        assert condition(last, None, first, options) is None
    assert condition(np.full((36, 64), 16, np.uint8), None, reference, options) == Tamper.BLACK
    assert condition(np.full((36, 64), 150, np.uint8), None, reference, options) == Tamper.UNIFORM
    assert condition(busy, busy.copy(), reference, options) == Tamper.FROZEN


def test_a_condition_must_last_its_hold_time():
    options = TamperOptions(every_s=1, hold_s=4, frozen_s=8, learn=3)
    watch = TamperWatch(options)
    good, black = counter([], 1.0), np.zeros((36, 64), np.uint8)
    noisy = [np.clip(good.astype(np.int16) + k % 3, 0, 255).astype(np.uint8) for k in range(40)]
    changes = [watch.look(noisy[k], T + timedelta(seconds=k)) for k in range(5)]
    assert changes == [None] * 5 and watch.reference is not None
    changes = [watch.look(black, T + timedelta(seconds=k)) for k in range(5, 12)]
    assert changes[:4] == [None] * 4 and changes[4] == ("start", Tamper.BLACK, T + timedelta(seconds=5))
    assert watch.look(noisy[12], T + timedelta(seconds=12)) == ("end", Tamper.BLACK, T + timedelta(seconds=12))
    watch2 = TamperWatch(options)
    assert [watch2.look(black, T + timedelta(seconds=k)) for k in range(3)] == [None] * 3  # a short blink


def test_covered_lens_on_a_live_camera(tmp_path, cameras_up, rtsp_available):
    clip = counter_footage(tmp_path / "covered.mp4", 45, covered=(14.0, 30.0))
    cam = cameras_up({"cam0": clip})
    engine = make_engine(f"sqlite:///{tmp_path}/rec.db")
    migrate(engine)
    factory = session_factory(engine)
    options = RecorderOptions(segment_s=4, stall_s=3, open_s=6, backoff_min_s=0.5, backoff_max_s=2,
                              health_every_s=0.5, tamper=TamperOptions(every_s=1, hold_s=4, frozen_s=8, learn=3),
                              evidence_dir=tmp_path / "evidence")
    root = tmp_path / "store"
    recorder = Recorder([camera(cam.url())], root, options, factory)
    started = datetime.now(UTC)
    recorder.start()
    try:
        assert wait_for(lambda: recorder.snapshots()[0].state == "tampered", 35)
        assert recorder.snapshots()[0].detail == "black picture"
        assert wait_for(lambda: recorder.snapshots()[0].state == "recording", 25)
        recorder.flush()
    finally:
        recorder.stop()
    with factory() as session:
        (span,) = session.scalars(select(CameraTamperRow)).all()
        assert session.scalars(select(CameraGapRow)).all() == [], "recording went on: no gap"
    assert span.what == "black" and span.end is not None and span.last_good_at is not None
    # the lens was covered 14..30 s into the camera's stream (it began about when we connected)
    start_s, end_s = ((span.start - started).total_seconds(), (span.end - started).total_seconds())
    assert 12 <= start_s <= 20 and 28 <= end_s <= 38, (start_s, end_s)
    assert span.last_good_at <= span.start
    assert len(segments(root)) >= 8
    # the keyframes before (the last good picture), after (the first black one) and back again, as
    # JPEGs in the evidence directory, named by the span
    luma = {}
    for label in ("before", "after", "back"):
        rel = getattr(span, f"keyframe_{label}")
        assert rel == f"tamper/P1/C1/{span.start.astimezone(UTC):%Y%m%dT%H%M%SZ}-{label}.jpg"
        with Image.open(tmp_path / "evidence" / rel) as image:
            assert image.format == "JPEG" and image.size == (640, 360)
            luma[label] = float(np.asarray(image.convert("L")).mean())
    assert luma["before"] > 60 and luma["after"] < 20 and luma["back"] > 60, luma
