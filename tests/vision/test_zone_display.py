"""A counter's ``display_zone`` in cameras.yaml (issue 25): the pharmacy's own goods on display, never
counted as the customer's. Read like the other zones, with strict errors that name the bad key."""

from __future__ import annotations

import pytest

from ingest.cameras import load_cameras
from rxaudit.domain import Box, DetectedObject
from rxaudit.errors import ConfigError
from reconcile.goods_arrival import on_display

GLASS = "[[0.67, 0.8], [1, 0.8], [1, 1], [0.67, 1]]"


def write(tmp_path, text: str):
    path = tmp_path / "cameras.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_display_zone_per_counter_and_by_default(tmp_path):
    cameras = load_cameras(write(tmp_path, f"""
defaults:
  display_zone: {GLASS}
pharmacies:
  PH1:
    counters:
      C1:
        zone: [[0, 0], [0.6, 0], [0.6, 1], [0, 1]]
      C2:
        display_zone: [[0, 0.9], [0.2, 0.9], [0.2, 1]]
"""))
    # defaults apply where a counter says nothing (a counter listed for its zone keeps the glass top);
    # `display_zone: null` in a counter's entry says it has none (tests/ingest/test_cameras.py)
    assert cameras.counter("PH1", "C1").display_zone == ((0.67, 0.8), (1, 0.8), (1, 1), (0.67, 1))
    assert cameras.counter("PH1", "C2").display_zone == ((0, 0.9), (0.2, 0.9), (0.2, 1))
    assert cameras.counter("PH9", "C1").display_zone == ((0.67, 0.8), (1, 0.8), (1, 1), (0.67, 1))
    assert load_cameras(write(tmp_path, "pharmacies: {}\n")).counter("PH1", "C1").display_zone is None


@pytest.mark.parametrize("text, named", [
    ("pharmacies: {PH1: {counters: {C1: {display_zone: [[0, 0], [1, 1]]}}}}",
     "pharmacies.PH1.counters.C1.display_zone: Value error, zone needs at least 3 points"),
    ("pharmacies: {PH1: {counters: {C1: {display_zone: [[0, 0], [1.5, 0], [1, 1]]}}}}",
     "pharmacies.PH1.counters.C1.display_zone: Value error, zone points are relative coordinates in [0, 1]"),
    ("defaults: {display_zone: glass}", "defaults.display_zone"),
    ("pharmacies: {PH1: {counters: {C1: {display_zones: " + GLASS + "}}}}",
     "pharmacies.PH1.counters.C1.display_zones: unknown key"),
])
def test_a_bad_display_zone_is_an_error_that_names_it(tmp_path, text, named):
    with pytest.raises(ConfigError) as err:
        load_cameras(write(tmp_path, text))
    assert named in str(err.value)


@pytest.mark.parametrize("cx, cy, inside", [(600, 340, True), (300, 340, False), (600, 250, False)])
def test_goods_centred_on_the_glass_top_are_on_display(cx, cy, inside):
    zone = ((0.67, 0.8), (1.0, 0.8), (1.0, 1.0), (0.67, 1.0))
    obj = DetectedObject(Box(cx - 10, cy - 10, cx + 10, cy + 10), "drug", 0.9)
    assert on_display(obj, zone, (640, 360)) is inside
    assert on_display(obj, None, (640, 360)) is False
