"""Face identity per visit on real footage: the same person across visits matches, two different
people do not, at the configured threshold (see ``rxaudit calibrate-faces``)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from reconcile.visits import visit_identity
from rxaudit.settings import Settings
from tests.conftest import FOOTAGE
from vision.calibration import encodings_per_frame, gif_frames

THRESHOLD = Settings().face_distance_threshold


@pytest.fixture(scope="module")
def visits():
    out = {}
    for name in ("male", "female"):
        frames = gif_frames(FOOTAGE / f"head-pose-face-detection-{name}.gif")
        # two separate "visits" per person: the first and the last third of the clip
        third = len(frames) // 3
        out[name] = [
            visit_identity(encodings_per_frame(part, 0.6), min_faces=2, max_spread=0.7)
            for part in (frames[:third], frames[-third:])
        ]
    return out


def test_same_face_across_visits_matches(visits):
    for name, (a, b) in visits.items():
        assert a is not None and b is not None
        assert np.linalg.norm(a - b) < THRESHOLD, name


def test_different_faces_do_not_match(visits):
    for a, b in ((x, y) for x in visits["male"] for y in visits["female"]):
        assert np.linalg.norm(a - b) > THRESHOLD + 0.1


def test_library_default_is_not_what_rxaudit_uses():
    assert THRESHOLD < 0.6


def test_visit_identity_refuses_too_few_or_inconsistent_faces():
    rng = np.random.default_rng(0)
    one = rng.normal(0, 0.1, 128).astype(np.float32)
    assert visit_identity([one], min_faces=2, max_spread=0.5) is None
    scattered = [rng.normal(0, 0.5, 128).astype(np.float32) for _ in range(4)]
    assert all(np.linalg.norm(a - b) > 1 for a, b in combinations(scattered, 2))
    assert visit_identity(scattered, min_faces=2, max_spread=0.5) is None
