"""The burned-in clock read with Tesseract on the configured crop, as a check of the segment
timeline. The sample generator burns the camera clock into every frame (top left)."""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta, timezone

import pytest

from audit import counter_audit
from ingest.video_store import LocalVideoStore, segment_name
from cli.main import main
from rxaudit.domain import Segment
from sample_footage.generator import write_segment
from sample_footage.scene import Appearance, Backdrop, render
from tests.conftest import TEST_KEY
from tests.fakes import BrightBlockPersons, NoFaces
from vision.osd_clock import check_segment, parse_stamp, read_osd, tesseract_path

TZ = timezone(timedelta(hours=8))
CROP = (0, 4, 200, 24)  # where scene.render draws "%Y-%m-%d %H:%M:%S"


@pytest.fixture(autouse=True, scope="module")
def _tesseract():
    if tesseract_path() is None:
        if os.environ.get("CI"):
            pytest.fail("tesseract is not installed in CI (apt-get install tesseract-ocr)")
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr): OSD tests skipped")


@pytest.mark.parametrize("text, expected", [
    ("2026-11-20 10:00:05", datetime(2026, 11, 20, 10, 0, 5, tzinfo=TZ)),
    ("2026-11-2010:00:05", datetime(2026, 11, 20, 10, 0, 5, tzinfo=TZ)),  # Tesseract drops the space
    ("2026-11-20 23:59:59\n", datetime(2026, 11, 20, 23, 59, 59, tzinfo=TZ)),
    ("2026-11-20 10:0:05", None),   # a digit lost
    ("2026-13-20 10:00:05", None),  # no such month
    ("", None),
])
def test_parse_stamp(text, expected):
    assert parse_stamp(text, TZ) == expected


@pytest.mark.parametrize("seed", range(6))
def test_reads_the_generators_burned_in_clock(seed):
    rng = random.Random(seed)
    stamp = datetime(2026, 11, rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                     rng.randint(0, 59), tzinfo=TZ)
    image = render(Backdrop(rng), [Appearance("female", 0, 100, 200)], 10.0, 10, stamp)
    assert read_osd(image, CROP, TZ) == stamp


def _segment(folder, name_start: datetime, shown_start: datetime, seconds: float = 6.0) -> Segment:
    """A rendered segment named ``name_start`` whose frames show ``shown_start`` onwards."""
    path = folder / "PH1" / "C1" / segment_name(name_start)
    write_segment(path, shown_start.timestamp(), seconds, "libx264", 10, Backdrop(random.Random(1)),
                  [], TZ)
    return Segment("PH1", "C1", name_start, f"PH1/C1/{path.name}")


def test_segment_check_agrees_with_a_true_timeline_and_reports_a_wrong_one(tmp_path):
    t0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
    store = LocalVideoStore(tmp_path)
    right = check_segment(store, _segment(tmp_path, t0, t0), CROP)
    assert right.difference_s == 0.0 and right.agrees is True and right.problem is None
    assert sum(r.osd is not None for r in right.readings) == 3
    # the recorder named the file 7 s late: its timeline is 7 s ahead of what the camera showed
    wrong = check_segment(store, _segment(tmp_path, t0 + timedelta(seconds=60), t0 + timedelta(seconds=53)), CROP)
    assert wrong.difference_s == -7.0 and wrong.agrees is False


def test_a_crop_without_a_clock_is_unreadable_not_a_disagreement(tmp_path):
    t0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
    check = check_segment(LocalVideoStore(tmp_path), _segment(tmp_path, t0, t0), (300, 150, 120, 40))
    assert check.agrees is None and check.problem == "on-screen clock unreadable"


def test_rxaudit_clocks_reports_an_osd_disagreement(tmp_path, monkeypatch, capsys):
    t0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
    videos = tmp_path / "videos"
    _segment(videos, t0, t0 + timedelta(seconds=9), seconds=8)  # the OSD runs 9 s ahead of the file
    (tmp_path / "s.csv").write_text(
        "settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
        f"S1,PH1,C1,{(t0 + timedelta(seconds=4)).isoformat()},CARD1,1.00\n", encoding="utf-8")
    (tmp_path / "cameras.yaml").write_text(
        "pharmacies:\n  PH1:\n    counters:\n      C1:\n        osd_crop: [0, 4, 200, 24]\n", encoding="utf-8")
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    monkeypatch.setattr(counter_audit, "load_models",
                        lambda *_a, **_k: counter_audit.Models(BrightBlockPersons(), NoFaces()))
    out = tmp_path / "clocks.json"
    assert main(["clocks", "--settlements", str(tmp_path / "s.csv"), "--videos", str(videos),
                 "--cameras", str(tmp_path / "cameras.yaml"), "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["counters"]
    assert row["verdict"] == "insufficient"  # one swipe: no judgement of the clock from visits
    assert row["osd"]["osd_minus_timeline_s"] == 9.0 and row["osd"]["segments_disagreeing"] == 1
    assert "DISAGREES with the segment timeline" in capsys.readouterr().out


def test_rxaudit_clocks_reads_osd_for_counters_from_the_database(tmp_path, make_settings, capsys):
    """After an audit: `rxaudit clocks --db ... --cameras ... --osd-videos DIR`."""
    from audit.pipeline import audit

    t0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
    videos = tmp_path / "videos"
    _segment(videos, t0, t0, seconds=8)  # a true timeline
    (tmp_path / "s.csv").write_text(
        "settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
        f"S1,PH1,C1,{(t0 + timedelta(seconds=4)).isoformat()},CARD1,1.00\n", encoding="utf-8")
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text("pharmacies:\n  PH1:\n    counters:\n      C1:\n        osd_crop: [0, 4, 200, 24]\n",
                       encoding="utf-8")
    settings = make_settings()
    audit(settings, settlements_file=tmp_path / "s.csv", videos=videos, cameras_file=cameras,
          models=counter_audit.Models(BrightBlockPersons(), NoFaces()))
    out = tmp_path / "clocks.json"
    assert main(["clocks", "--db", settings.db_url, "--cameras", str(cameras), "--osd-videos", str(videos),
                 "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["counters"]
    assert row["osd"]["osd_minus_timeline_s"] == 0.0 and row["osd"]["segments_disagreeing"] == 0
    assert "agrees with the segment timeline" in capsys.readouterr().out
