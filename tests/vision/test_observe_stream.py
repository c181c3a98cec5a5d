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
from vision.sampler import PixelDemand, SampledFrame

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


def run(seq, swipes=(), **options):
    stats = Counter()
    persons = BrightBlockPersons()
    got = list(observe_stream(seq, pharmacy_id="PH1", counter_id="C1", zone=WHOLE, persons=persons,
                              faces=NoFaces(), options=ObserveOptions(**options), stats=stats,
                              swipes=[T0 + timedelta(seconds=s) for s in swipes]))
    return [(round((o.t - T0).total_seconds(), 2), len(o.customers)) for _, o in got], stats, persons


def test_dense_frames_place_a_departure_between_base_frames():
    seq = frames(lambda t: t < 5.6, dense_between=[(3, 8)])
    seen, stats, _ = run(seq, swipes=[5.5])
    times = [t for t, _ in seen]
    # 5 -> 6 changed (the customer left): the dense frames between them are observed
    assert [t for t in times if 5 < t < 6] == [5.25, 5.5, 5.75]
    assert dict(seen)[5.5] == 1 and dict(seen)[5.75] == 0
    # elsewhere nobody came or went: dense frames dropped unobserved
    assert not [t for t in times if (3 < t < 5 or 6 < t < 8) and t != int(t)]
    assert stats["dense_frames"] == 15 and stats["dense_observed"] == 3


def test_dense_frames_beyond_the_clock_tolerance_are_not_observed():
    """A departure 2.4 s before the swipe, outside the 1.5 s that can decide it: the base frames
    place it; the dense frames there are dropped, those at the swipe are not needed either."""
    seq = frames(lambda t: t < 5.6, dense_between=[(5, 11)])
    seen, stats, _ = run(seq, swipes=[8.0], exact_window_s=1.5, far_detect_every_s=0)
    assert not [t for t, _ in seen if t != int(t)]
    assert dict(seen)[5] == 1 and dict(seen)[6] == 0
    assert stats["dense_frames"] == 15 and stats["dense_observed"] == 0
    # the same departure inside the window is placed to the dense rate
    seen, stats, _ = run(seq, swipes=[6.0], exact_window_s=1.5)
    assert [t for t, _ in seen if 5 < t < 6] == [5.25, 5.5, 5.75] and stats["dense_observed"] == 3


@pytest.mark.parametrize("present, runs", [(True, 6), (False, 3)])
def test_far_from_swipes_an_empty_counter_is_looked_at_less_often(present, runs):
    """Every frame moves (a new scene each second); far from any swipe the detector runs every
    ``far_detect_every_s`` while a customer stands there, every ``far_idle_every_s`` while nobody
    does."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 20, (31, 96, 160, 3), dtype=np.uint8)
    seq = [SampledFrame(T0 + timedelta(seconds=t), scene_frame(present) + noise[t], "seg", float(t))
           for t in range(31)]
    stats = Counter()
    persons = BrightBlockPersons()
    list(observe_stream(seq, pharmacy_id="PH1", counter_id="C1", zone=WHOLE, persons=persons, faces=None,
                        options=ObserveOptions(motion_threshold=3.0, far_detect_every_s=6.0,
                                               far_idle_every_s=12.0, exact_window_s=1.5),
                        stats=stats))
    assert persons.calls == runs


@pytest.mark.parametrize("leaves_at, last_present", [(3.4, 2), (8.6, 8)])
def test_a_change_between_far_detector_runs_is_placed_at_their_midpoint(leaves_at, last_present):
    """Far from the swipes the detector runs every 6 s (0, 6, 12): the frames in between reuse the
    last run's detections, except after a change, where those past the midpoint take the next
    run's. A departure at 3.4 s or 8.6 s (between runs) is placed at 3 s or 9 s, the midpoints,
    not at the next run: visits are not shifted late, nor is the clock-offset estimate built on them."""
    seq = frames(lambda t: t < leaves_at, end=12)
    rng = np.random.default_rng(1)  # every frame moves: the motion gate never reuses on its own
    seq = [SampledFrame(f.t, f.image + rng.integers(0, 20, f.image.shape, dtype=np.uint8), "seg", f.offset_s)
           for f in seq]
    seen, _, persons = run(seq, motion_threshold=3.0, far_detect_every_s=6.0, far_idle_every_s=6.0,
                           exact_window_s=1.5)
    assert [t for t, _ in seen] == list(range(13))  # every frame observed, in time order
    assert persons.calls == 3
    assert [t for t, n in seen if n] == list(range(last_present + 1))


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


def test_frames_whose_detections_are_reused_unseen_are_not_asked_for():
    """Far from the swipes the detector runs at most every ``far_detect_every_s``: the stage tells
    the sampler (``PixelDemand``) not to decode the base frames in between, and observes them with
    the reused detections. Near a swipe every frame is asked for."""
    demand = PixelDemand()
    refused = []

    def source():
        for frame in frames(lambda t: True, end=30):
            if demand(frame.t):
                yield frame
            else:  # what the sampler yields for a frame it did not decode
                refused.append(round((frame.t - T0).total_seconds()))
                yield SampledFrame(frame.t, None, "seg", frame.offset_s, size=(160, 96))

    persons = BrightBlockPersons()
    got = list(observe_stream(source(), pharmacy_id="PH1", counter_id="C1", zone=WHOLE, persons=persons,
                              faces=None, options=ObserveOptions(far_detect_every_s=3.0, exact_window_s=1.5),
                              swipes=[T0 + timedelta(seconds=20)], demand=demand))
    assert len(got) == 31 and all(len(o.customers) == 1 for _, o in got)  # every frame observed
    assert refused and not [t for t in refused if abs(t - 20) <= 1.5]
    # each refused frame lies within 3 s after a detector run; the runs are the frames asked for
    assert persons.calls == 31 - len(refused)
    assert refused == [1, 2, 4, 5, 7, 8, 10, 11, 13, 14, 16, 17, 22, 23, 25, 26, 28, 29]
