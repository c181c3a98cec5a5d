"""``rxaudit clocks``: from the audit database and by re-scanning the footage; ``clocks confirm``
writes an offset into cameras.yaml. Fake person detector on rendered clips (a bright block on the
left is a customer); the real models run in the sample-bundle and real-clip tests."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest
import yaml

import rxaudit.counter_audit
from ingest.cameras import load_cameras
from ingest.video_store import segment_name
from rxaudit.cli import main
from rxaudit.errors import ConfigError, InputError
from rxaudit.pipeline import Models, audit
from tests.conftest import TEST_KEY
from tests.fakes import BrightBlockPersons, NoFaces, scene_frame
from tests.videos import make_clip

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
FPS = 4


def customers(seed: int) -> list[tuple[float, float]]:
    """12 customers arriving at irregular intervals (30-75 s), staying 14-22 s, from 150 s on."""
    rng = random.Random(seed)
    out, t = [], 150.0
    for _ in range(12):
        stay = rng.uniform(14, 22)
        out.append((t, t + stay))
        t += rng.uniform(30, 75)
    return out


def counter_day(tmp_path, true_offsets: dict[str, float]):
    """One clip per counter (camera clock) and a log whose swipes are made during the visits (true
    clock): a camera ``true_offsets[c]`` seconds fast shows each visit that much later."""
    videos = tmp_path / "videos"
    lines = ["settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount"]
    for k, (counter, offset) in enumerate(sorted(true_offsets.items())):
        visits = customers(seed=k + 1)
        seconds = visits[-1][1] + 150
        frames = [scene_frame(any(a <= i / FPS <= b for a, b in visits)) for i in range(int(seconds * FPS))]
        make_clip(videos / "PH1" / counter / segment_name(T0), seconds, fps=FPS, frames=frames)
        for n, (a, b) in enumerate(visits):
            at = T0 + timedelta(seconds=(a + b) / 2 - offset)
            lines.append(f"{counter}-{n},PH1,{counter},{at.isoformat()},CARD-{counter}-{n},10.00")
    (tmp_path / "settlements.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "settlements.csv", videos


def fake_models(*_args, **_kw) -> Models:
    return Models(persons=BrightBlockPersons(), faces=NoFaces())


def rows(path) -> dict[str, dict]:
    return {r["counter_id"]: r for r in json.loads(path.read_text())["counters"]}


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """C1's camera is 40 s fast and nobody knows; C2's clock is right."""
    return counter_day(tmp_path_factory.mktemp("clocks"), {"C1": 40.0, "C2": 0.0})


def test_rescan_reports_the_unknown_offset_and_leaves_the_right_clock_alone(tmp_path, day, monkeypatch, capsys):
    settlements, videos = day
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    monkeypatch.setattr(rxaudit.counter_audit, "load_models", fake_models)
    out = tmp_path / "clocks.json"
    assert main(["clocks", "--settlements", str(settlements), "--videos", str(videos),
                 "--evidence-dir", str(tmp_path / "ev"), "--json", str(out)]) == 0
    got = rows(out)
    assert got["C1"]["verdict"] == "suspect" and 37 <= got["C1"]["best_offset_s"] <= 43, got["C1"]
    assert got["C1"]["agreement_best"] >= 0.9 and got["C1"]["agreement_configured"] <= 0.4
    assert got["C2"]["verdict"] == "ok" and got["C2"]["best_offset_s"] == 0.0, got["C2"]
    assert got["C2"]["agreement_configured"] == 1.0
    assert not (tmp_path / "ev").exists()  # a re-scan writes no evidence
    text = capsys.readouterr().out
    assert "PH1/C1" in text and "suspect" in text and "clocks confirm" in text


def test_audit_marks_suspect_flags_then_clocks_reads_the_database_and_confirm_fixes_it(
        tmp_path, day, make_settings, db_url, capsys):
    settlements, videos = day
    settings = make_settings(db_url=db_url, burst_min_cards=20)  # a busy day is not a burst here
    report = audit(settings, settlements_file=settlements, videos=videos, models=fake_models())
    flags = [f for r in report.results for f in r.flags]
    c1 = [f for f in flags if f.settlement_id.startswith("C1-")]
    # C1's swipes land between customers on the wrong clock: no_customer, marked and scored lower
    assert c1 and all(str(f.kind) == "no_customer" and "camera clock suspect" in f.reason
                      and f.score <= 0.5 for f in c1), [(f.kind, f.score, f.reason) for f in c1]
    assert not [f for f in flags if f.settlement_id.startswith("C2-")]
    assert report.summary["clock_suspect"] == [s for s in report.summary["clock_suspect"] if "PH1/C1" in s]

    out = tmp_path / "db.json"
    assert main(["clocks", "--db", db_url, "--json", str(out)]) == 0
    got = rows(out)
    assert got["C1"]["verdict"] == "suspect" and 36 <= got["C1"]["best_offset_s"] <= 44
    assert got["C2"]["verdict"] == "ok"

    cameras = tmp_path / "cameras.yaml"
    cameras.write_text("defaults:\n  timezone: Asia/Shanghai\n", encoding="utf-8")
    best = got["C1"]["best_offset_s"]
    assert main(["clocks", "confirm", "--cameras", str(cameras), "--pharmacy", "PH1", "--counter", "C1",
                 "--offset", str(best)]) == 0
    assert load_cameras(cameras).counter("PH1", "C1").clock_offset_s == best
    # the stored profiles judged at the confirmed offset: fine now
    assert main(["clocks", "--db", db_url, "--cameras", str(cameras), "--json", str(out)]) == 0
    after = rows(out)["C1"]
    assert after["verdict"] == "ok" and after["configured_offset_s"] == best
    assert after["agreement_configured"] >= 0.9
    # and the next audit accuses no one there
    report = audit(settings, settlements_file=settlements, videos=videos, cameras_file=cameras,
                   models=fake_models())
    assert not [f for r in report.results for f in r.flags if f.settlement_id.startswith("C1-")]


def test_empty_database_says_so(tmp_path, capsys):
    assert main(["clocks", "--db", f"sqlite:///{tmp_path}/empty.db"]) == 0
    assert "no swipes with a clock profile" in capsys.readouterr().out


def test_rescan_needs_both_inputs(tmp_path, capsys):
    assert main(["clocks", "--settlements", str(tmp_path / "s.csv"), "--db", f"sqlite:///{tmp_path}/x.db"]) != 0
    assert "--settlements and --videos go together" in capsys.readouterr().err


CAMERAS = """\
# the sample's cameras
defaults:
  timezone: Asia/Shanghai
  zone: [[0, 0], [0.6, 0], [0.6, 1], [0, 1]]
pharmacies:
  PH1:
    business_hours: "08:30-20:00"
    counters:
      C1:
        zone: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
        clock_offset_s: 3.5
"""


@pytest.mark.parametrize("pharmacy, counter, offset, zone", [
    ("PH1", "C1", 42.0, [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]),      # existing entry: only the offset
    ("PH1", "C2", -30.0, [[0, 0], [0.6, 0], [0.6, 1], [0, 1]]),     # new counter keeps the defaults' zone
    ("PH9", "C1", 12.5, [[0, 0], [0.6, 0], [0.6, 1], [0, 1]]),      # new pharmacy
])
def test_confirm_writes_one_offset_and_keeps_the_rest(tmp_path, pharmacy, counter, offset, zone):
    path = tmp_path / "cameras.yaml"
    path.write_text(CAMERAS, encoding="utf-8")
    before = load_cameras(path)
    assert main(["clocks", "confirm", "--cameras", str(path), "--pharmacy", pharmacy, "--counter", counter,
                 "--offset", str(offset)]) == 0
    after = load_cameras(path)
    assert after.counter(pharmacy, counter).clock_offset_s == offset
    assert [list(p) for p in after.counter(pharmacy, counter).zone] == zone
    assert after.business_hours("PH1") == before.business_hours("PH1")
    for other in (("PH1", "C1"), ("PH1", "C2"), ("PH9", "C1")):
        if other != (pharmacy, counter):
            assert after.counter(*other) == before.counter(*other)
    assert (tmp_path / "cameras.yaml.bak").read_text(encoding="utf-8") == CAMERAS


@pytest.mark.parametrize("content, offset, error", [
    (CAMERAS.replace("clock_offset_s", "clock_ofset_s"), "5", "clock_ofset_s: unknown key"),
    (CAMERAS, "nan", "offset must be a number"),
    ("- a list\n", "5", "valid dictionary"),
])
def test_confirm_refuses_bad_input_and_changes_nothing(tmp_path, content, offset, error, capsys):
    path = tmp_path / "cameras.yaml"
    path.write_text(content, encoding="utf-8")
    code = main(["clocks", "confirm", "--cameras", str(path), "--pharmacy", "PH1", "--counter", "C1",
                 "--offset", offset])
    assert code != 0 and error in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == content
    assert not (tmp_path / "cameras.yaml.bak").exists()


def test_confirm_errors_are_config_or_input_errors(tmp_path):
    from rxaudit.clocks import confirm_offset

    path = tmp_path / "cameras.yaml"
    path.write_text(CAMERAS, encoding="utf-8")
    with pytest.raises(InputError):
        confirm_offset(path, pharmacy="PH1", counter="C1", offset_s=float("inf"))
    path.write_text("pharmacies: {PH1: {counters: {C1: {osd_crop: [0, 0, 2, 2]}}}}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        confirm_offset(path, pharmacy="PH1", counter="C1", offset_s=1.0)
    assert yaml.safe_load(path.read_text())["pharmacies"]["PH1"]["counters"]["C1"] == {"osd_crop": [0, 0, 2, 2]}
