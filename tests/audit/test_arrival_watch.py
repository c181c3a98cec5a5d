"""The counter detector also looks at the counter just before each customer steps up (issue 25):
one run per arrival, on the last frame with nobody in the customer zone."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np

from audit.counter_audit import ArrivalWatch
from rxaudit.domain import Box, DetectedObject
from tests.factories import T0, observation, person
from vision.sampler import SampledFrame


class CountingDetector:
    def __init__(self) -> None:
        self.seen: list[float] = []

    def detect(self, frames):
        self.seen += [float(f[0, 0, 0]) for f in frames]
        return [[DetectedObject(Box(10, 300, 50, 330), "non_covered", 0.9)] for _ in frames]


def frame(t: float, pixels: bool = True) -> SampledFrame:
    at = T0 + timedelta(seconds=t)
    if not pixels:
        return SampledFrame(at, None, "seg.mp4", t, size=(640, 360))
    return SampledFrame(at, np.full((360, 640, 3), t, np.uint8), "seg.mp4", t)


def run(steps, detector):
    """``steps``: (seconds, someone in the customer zone, decoded)."""
    stats, observations = Counter(), []
    watch = ArrivalWatch(detector, stats)
    for t, occupied, pixels in steps:
        observations.append(observation(t, (person(track_id=1),) if occupied else ()))
        watch.offer(frame(t, pixels), observations)
    return observations, stats


def test_the_last_empty_frame_before_each_arrival_is_checked():
    detector = CountingDetector()
    steps = [(0, False, True), (1, False, True), (2, False, False), (3, True, True), (4, True, True),
             (5, False, True), (6, True, True)]
    observations, stats = run(steps, detector)
    assert detector.seen == [1.0, 5.0]  # the decoded empty frame before each of the two arrivals
    assert [o.objects_checked for o in observations] == [False, True, False, False, False, True, False]
    assert observations[1].objects[0].cls == "non_covered" and stats["object_runs"] == 2


def test_nothing_is_checked_without_an_empty_frame_or_a_detector():
    detector = CountingDetector()
    observations, _ = run([(0, True, True), (1, True, True)], detector)
    assert detector.seen == [] and not any(o.objects_checked for o in observations)
    watch, observations = ArrivalWatch(None, Counter()), []
    for t, occupied in ((0, False), (1, True)):
        observations.append(observation(t, (person(track_id=1),) if occupied else ()))
        watch.offer(frame(t), observations)
    assert not any(o.objects_checked for o in observations)


def test_a_frame_already_checked_is_not_checked_again():
    detector = CountingDetector()
    watch, observations = ArrivalWatch(detector, Counter()), []
    observations.append(observation(0, (), objects=()))  # near a swipe: the detector ran on it
    watch.offer(frame(0), observations)
    observations.append(observation(1, (person(track_id=1),)))
    watch.offer(frame(1), observations)
    assert detector.seen == []
