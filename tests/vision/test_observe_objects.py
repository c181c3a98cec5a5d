"""The counter detector runs only on frames near a swipe, and its findings reach the observations."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from rxaudit.domain import Box, DetectedObject
from tests.factories import T0
from tests.fakes import BrightBlockPersons, NoFaces, scene_frame
from vision.observe import ObserveOptions, observe_counter
from vision.sampler import SampledFrame


class OneCard:
    def __init__(self) -> None:
        self.calls = 0

    def detect(self, frames):
        self.calls += len(frames)
        return [[DetectedObject(Box(10, 60, 40, 80), "card", 0.9)] for _ in frames]


def test_objects_only_near_swipes():
    frames = [SampledFrame(T0 + timedelta(seconds=k), scene_frame(True), "seg", float(k)) for k in range(30)]
    objects, stats = OneCard(), Counter()
    seen = observe_counter(frames, pharmacy_id="PH1", counter_id="C1", zone=((0, 0), (1, 0), (1, 1), (0, 1)),
                           persons=BrightBlockPersons(), faces=NoFaces(), options=ObserveOptions(goods_window_s=2),
                           objects=objects, swipes=[T0 + timedelta(seconds=10), T0 + timedelta(seconds=25)],
                           stats=stats)
    checked = [int((o.t - T0).total_seconds()) for o in seen if o.objects_checked]
    assert checked == [8, 9, 10, 11, 12, 23, 24, 25, 26, 27]
    assert objects.calls == stats["object_runs"] == 10
    assert all(o.objects[0].cls == "card" for o in seen if o.objects_checked)
    assert all(o.objects == () for o in seen if not o.objects_checked)
