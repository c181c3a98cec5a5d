"""``rxaudit clocks`` on a rendered sample bundle with the real models: the counter whose camera
clock is wrong without anyone knowing (expected.json "clock_suspect_counters") is reported
suspect, near its true offset; every other counter, configured offsets included, is not; the
swipes there are never accused without the clock note."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from sample_footage.generator import write_bundle
from tests.conftest import TEST_KEY


@pytest.mark.slow
@pytest.mark.parametrize("seed", [303])
def test_sample_bundle_clock_cases(tmp_path, monkeypatch, seed):
    bundle = tmp_path / "bundle"
    expected = write_bundle(bundle, seed)
    if "clock_suspect_counters" not in expected:
        pytest.fail("the sample generator writes no clock cases (expected.json clock_suspect_counters)")
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    monkeypatch.setenv("RXAUDIT_EVIDENCE_DIR", str(tmp_path / "evidence"))
    db = f"sqlite:///{tmp_path}/rx.db"
    assert main(["audit", "--settlements", str(bundle / "settlements.csv"), "--videos", str(bundle / "videos"),
                 "--cameras", str(bundle / "cameras.yaml"), "--db", db, "--out", str(tmp_path / "flags.json")]) == 0
    flags = json.loads((tmp_path / "flags.json").read_text())

    out = tmp_path / "clocks.json"
    assert main(["clocks", "--db", db, "--cameras", str(bundle / "cameras.yaml"), "--json", str(out)]) == 0
    rows = {f"{r['pharmacy_id']}/{r['counter_id']}": r for r in json.loads(out.read_text())["counters"]}
    suspect = set(expected["clock_suspect_counters"])
    for name in suspect:
        row = rows[name]
        truth = expected["clock_offsets"][name]["true_s"]
        assert row["verdict"] == "suspect", row
        # the true offset is the best fit, or, where customers come at a steady rhythm, an equally
        # good alias one customer away that the report names and that lowers the confidence
        if abs(row["best_offset_s"] - truth) > 4:
            assert abs(row["runner_up_offset_s"] - truth) <= 4 and row["confidence"] < 0.5, (row, truth)
    for name, row in rows.items():
        if name not in suspect:
            assert row["verdict"] != "suspect", row
    for name, offsets in expected["clock_offsets"].items():
        if name not in suspect and name in rows:  # configured right: the configured offset fits best
            assert abs(rows[name]["best_offset_s"] - offsets["configured_s"]) <= 20, rows[name]

    # the swipes on the wrong clock: no accusation without the clock note, at a lower score
    on_wrong_clock = set(expected["clock_suspect"])
    for flag in flags["flags"]:
        if flag["settlement_id"] in on_wrong_clock and flag["kind"] == "no_customer":
            assert "camera clock suspect" in flag["reason"] and flag["score"] <= 0.5, flag
    assert all(any(name in line for line in flags["summary"].get("clock_suspect", [])) for name in suspect)
