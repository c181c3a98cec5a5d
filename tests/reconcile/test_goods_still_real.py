"""Real frames where goods stay put (bottle-detection.mp4: bottles on a table, no people, some taken
away and put back; Intel sample-videos, CC BY 4.0; held out of the detector's training), through the
shipped counter detector: goods lying there before the customer came did not come with the visit,
goods put down after the arrival did (issue 25)."""

from __future__ import annotations

from datetime import timedelta

import av
import pytest

from reconcile.goods import GoodsOptions, summarise_goods
from rxaudit.domain import Observation
from rxaudit.settings import MODELS_DIR, Settings
from tests.conftest import FOOTAGE
from tests.factories import T0

WHOLE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
SWIPE_AFTER = 8  # frames (seconds) from the customer's arrival to the swipe


@pytest.fixture(scope="module")
def seen() -> list[Observation]:
    """The counter detector on one frame a second of the whole clip (about 40 s), nobody in it."""
    from vision.objects import OnnxObjectDetector

    detector = OnnxObjectDetector(MODELS_DIR / "counter-objects.onnx")
    out = []
    with av.open(str(FOOTAGE / "bottle-detection.mp4")) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k % 30 == 0:
                image = frame.to_ndarray(format="rgb24")
                out.append(Observation("PH1", "C1", T0 + timedelta(seconds=k // 30),
                                       objects=tuple(detector.detect([image])[0]), objects_checked=True,
                                       frame_size=(image.shape[1], image.shape[0])))
    return out


def summary(seen: list[Observation], arrive: int, *, looked_before: bool):
    """A customer steps in half a second after frame ``arrive`` and pays ``SWIPE_AFTER`` s later;
    frame ``arrive`` is the last one with nobody there (``looked_before``: the audit checked it)."""
    s = Settings()
    frames = [o for k, o in enumerate(seen) if looked_before or k > arrive]
    return summarise_goods(frames, seen[arrive + SWIPE_AFTER].t, window_s=s.goods_window_s,
                           min_score=s.goods_min_score, min_frames=s.goods_min_frames, zone=WHOLE,
                           goods_zone=WHOLE, arrival=seen[arrive].t + timedelta(seconds=0.5),
                           options=GoodsOptions(min_share=s.goods_min_share, rival_min_score=s.goods_rival_min_score,
                                                review_min_score=s.goods_review_min_score,
                                                still_iou=s.goods_still_iou,
                                                arrival_lookback_s=s.goods_arrival_lookback_s))


def sure_boxes(o: Observation):
    return [d.box for d in o.objects if d.cls in ("drug", "non_covered") and d.score >= Settings().goods_min_score]


def unmoved(seen: list[Observation], arrive: int) -> bool:
    """Every bottle seen from the arrival to just after the swipe stood where it stood at the arrival."""
    still = sure_boxes(seen[arrive])
    return bool(still) and all(any(b.iou(a) >= Settings().goods_still_iou for a in still)
                               for o in seen[arrive:arrive + SWIPE_AFTER + 2] for b in sure_boxes(o))


def test_goods_that_stay_put_do_not_count_as_arriving_with_the_visit(seen):
    windows = [a for a in range(len(seen) - SWIPE_AFTER - 2) if unmoved(seen, a)]
    assert len(windows) >= 5, windows  # the clip has long still stretches
    for arrive in windows:
        blind = summary(seen, arrive, looked_before=False)
        assert blind["counts"]["non_covered"] >= 1  # the detector sees the bottles: the test is not vacuous
        got = summary(seen, arrive, looked_before=True)
        assert got["counts"]["non_covered"] == 0 and got["decisive"]["non_covered"] == 0, (arrive, got)
        assert got["already_there"] >= 1 and got["baseline_t"] == seen[arrive].t.isoformat()


def test_a_bottle_put_down_after_the_arrival_counts(seen):
    """Where a bottle is put back on the table between the arrival and the swipe, it counts."""
    put_down = []
    for arrive in range(len(seen) - SWIPE_AFTER - 2):
        before = sure_boxes(seen[arrive])
        at_swipe = [sure_boxes(o) for o in seen[arrive + SWIPE_AFTER - 1:arrive + SWIPE_AFTER + 2]]
        new = [b for b in at_swipe[1] if all(b.iou(a) < 0.3 for a in before)
               and all(any(b.iou(c) >= 0.5 for c in boxes) for boxes in at_swipe)]
        if new:
            put_down.append(arrive)
            assert summary(seen, arrive, looked_before=True)["counts"]["non_covered"] >= 1, arrive
    assert put_down  # bottles are taken away and put back in the clip
