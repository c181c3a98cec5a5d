"""cameras.yaml ``clock_uncertainty_s``: per counter, else the presence_tolerance_s setting."""

from __future__ import annotations

import pytest

from ingest.cameras import load_cameras
from rxaudit.errors import ConfigError

YAML = """
pharmacies:
  PH1:
    counters:
      C1: {clock_offset_s: 30, clock_uncertainty_s: 5}
      C2: {clock_offset_s: 2}
"""


def test_per_counter_uncertainty_else_the_default(tmp_path):
    path = tmp_path / "cameras.yaml"
    path.write_text(YAML, encoding="utf-8")
    cameras = load_cameras(path)
    assert cameras.clock_uncertainty("PH1", "C1", 1.0) == 5.0
    assert cameras.clock_uncertainty("PH1", "C2", 1.0) == 1.0  # configured counter, no uncertainty given
    assert cameras.clock_uncertainty("PH9", "C1", 1.5) == 1.5  # counter not in the file


@pytest.mark.parametrize("value", ["-1", "'soon'", "601"])
def test_bad_uncertainty_names_the_key(tmp_path, value):
    path = tmp_path / "cameras.yaml"
    path.write_text(f"pharmacies: {{PH1: {{counters: {{C1: {{clock_uncertainty_s: {value}}}}}}}}}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="clock_uncertainty_s"):
        load_cameras(path)
