"""The streamed vision stage: dense frames near a swipe are observed only where someone came or went
between two base-grid frames; the motion gate never hides a small moving person; frames are
observed as they arrive."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
import pytest

from tests.factories import T0
from tests.fakes import BrightBlockPersons, NoFaces, scene_frame
from vision.observe import MotionGate, ObserveOptions, observe_stream
from vision.sampler import SampledFrame

WHOLE = ((0, 0), (1, 0), (1, 1), (0, 1))


def frames(present, dense_between=(), step=0.25, end=10):
    """Base frames every second, dense frames every ``step`` inside ``dense_between`` (a, b)."""
    out = []
    t = 0.0
    while t <= end + 1e-9:
        dense = abs(t - round(t)) > 1e-9
        if not dense or any(a <= t <= b for a, b in dense_between):
            out.append(SampledFrame(T0 + timedelta(seconds=t), scene_frame(present(t)), "seg", t, dense=dense))
        t += step
    return out


def run(seq, **options):
    stats = Counter()
    persons = BrightBlockPersons()
    got = list(observe_stream(seq, pharmacy_id="PH1", counter_id="C1", zone=WHOLE, persons=persons,
                              faces=NoFaces(), options=ObserveOptions(**options), stats=stats))
    return [(round((o.t - T0).total_seconds(), 2), len(o.customers)) for _, o in got], stats, persons


def test_dense_frames_place_a_departure_between_base_frames():
    seq = frames(lambda t: t < 5.6, dense_between=[(3, 8)])
    seen, stats, _ = run(seq)
    times = [t for t, _ in seen]
    # 5 -> 6 changed (the customer left): the dense frames between them are observed
    assert [t for t in times if 5 < t < 6] == [5.25, 5.5, 5.75]
    assert dict(seen)[5.5] == 1 and dict(seen)[5.75] == 0
    # elsewhere nobody came or went: dense frames dropped unobserved
    assert not [t for t in times if (3 < t < 5 or 6 < t < 8) and t != int(t)]
    assert stats["dense_frames"] == 15 and stats["dense_observed"] == 3


def test_frames_are_observed_as_they_arrive():
    pulled = []

    def source():
        for frame in frames(lambda t: True, end=5):
            pulled.append(frame.t)
            yield frame

    stream = observe_stream(source(), pharmacy_id="PH1", counter_id="C1", zone=WHOLE,
                            persons=BrightBlockPersons(), faces=None, options=ObserveOptions())
    next(stream)
    assert len(pulled) == 1  # the first observation came before the rest was decoded


def _small_person(x: int) -> np.ndarray:
    image = np.full((270, 480, 3), 150, np.uint8)
    image[100:140, x : x + 12] = 20  # a person 12 x 40 px in a 480 x 270 overhead view
    return image


def test_motion_gate_sees_a_small_person_move():
    gate = MotionGate(3.0, 3.0)
    t = T0
    assert not gate.still(_small_person(100), t)
    assert gate.still(_small_person(100), t + timedelta(seconds=1))  # nothing moved
    # the whole-frame mean barely changes (under 3 grey levels) but the person moved
    assert np.abs(_small_person(100).astype(int) - _small_person(40)).mean() < 3
    assert not gate.still(_small_person(40), t + timedelta(seconds=2))


@pytest.mark.parametrize("near, runs", [(True, 11), (False, 2)])
def test_no_reuse_of_detections_near_a_swipe(near, runs):
    seq = frames(lambda t: True, end=10)  # nothing moves at all
    stats = Counter()
    persons = BrightBlockPersons()
    swipes = [T0 + timedelta(seconds=5)] if near else []
    list(observe_stream(seq, pharmacy_id="PH1", counter_id="C1", zone=WHOLE, persons=persons, faces=None,
                        options=ObserveOptions(motion_threshold=3.0, motion_max_reuse_s=60, exact_window_s=6),
                        stats=stats, swipes=swipes))
    assert persons.calls == runs
