"""``rxaudit clocks``: from the audit database and by re-scanning the footage; ``clocks confirm``
writes an offset into cameras.yaml. Fake person detector on rendered clips (a bright block on the
left is a customer); the real models run in the sample-bundle and real-clip tests."""

from __future__ import annotations

import json
import random
import stat
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from audit import counter_audit, pipeline
from ingest.cameras import load_cameras
from ingest.video_store import segment_name
from cli.main import main
from rxaudit.errors import ConfigError
from audit.pipeline import Models, audit
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
    monkeypatch.setattr(counter_audit, "load_models", fake_models)
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
                 "--offset", str(best), "--add"]) == 0
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
    new = ["--add"] if (pharmacy, counter) != ("PH1", "C1") else []
    assert main(["clocks", "confirm", "--cameras", str(path), "--pharmacy", pharmacy, "--counter", counter,
                 "--offset", str(offset), *new]) == 0
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
    (CAMERAS, "nan", "--offset must be a finite number"),
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
    from audit.clocks import confirm_offset

    path = tmp_path / "cameras.yaml"
    path.write_text(CAMERAS, encoding="utf-8")
    with pytest.raises(ConfigError, match="--offset"):
        confirm_offset(path, pharmacy="PH1", counter="C1", offset_s=float("inf"))
    path.write_text("pharmacies: {PH1: {counters: {C1: {osd_crop: [0, 0, 2, 2]}}}}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        confirm_offset(path, pharmacy="PH1", counter="C1", offset_s=1.0)
    assert yaml.safe_load(path.read_text())["pharmacies"]["PH1"]["counters"]["C1"] == {"osd_crop": [0, 0, 2, 2]}


def confirm(path, pharmacy="PH1", counter="C1", offset="12.5", *more: str) -> int:
    return main(["clocks", "confirm", "--cameras", str(path), f"--pharmacy={pharmacy}", f"--counter={counter}",
                 f"--offset={offset}", *more])


@pytest.mark.parametrize("pharmacy, counter", [("PH1", "C2"), ("PH9", "C1"), ("ph1", "C1"), ("PH1", "c1")])
def test_confirm_refuses_a_counter_the_file_has_no_entry_for_unless_added(tmp_path, capsys, pharmacy, counter):
    """A mistyped id must not get the offset while the real counter keeps the wrong one."""
    path = tmp_path / "cameras.yaml"
    path.write_text(CAMERAS, encoding="utf-8")
    assert confirm(path, pharmacy, counter) == 3
    err = capsys.readouterr().err
    assert f"{pharmacy}/{counter} has no entry" in err and "--add" in err
    assert path.read_text(encoding="utf-8") == CAMERAS and not (tmp_path / "cameras.yaml.bak").exists()
    assert confirm(path, pharmacy, counter, "12.5", "--add") == 0
    assert load_cameras(path).counter(pharmacy, counter).clock_offset_s == 12.5


def test_confirm_keeps_the_files_comments_order_and_quotes(tmp_path):
    original = ("# Lanzhou, Chengguan district: counter cameras (installer: call 0931-000)\n"
                + CAMERAS.replace("      C1:\n", "      C1:  # the till by the door\n"))
    path = tmp_path / "cameras.yaml"
    path.write_text(original, encoding="utf-8")
    assert confirm(path, offset="-7") == 0
    assert path.read_text(encoding="utf-8") == original.replace("clock_offset_s: 3.5", "clock_offset_s: -7.0")


@pytest.mark.parametrize("pharmacy, counter, offset, option", [
    ("PH1", "C1", "1e300", "--offset"),
    ("PH1", "C1", "-1e300", "--offset"),
    ("PH1", "C1", "1e400", "--offset"),  # inf
    ("PH1", "C1", "-inf", "--offset"),
    ("PH1", "C1", "nan", "--offset"),
    ("PH1", "C1", "86400.5", "--offset"),
    ("PH1", "C1", "-86401", "--offset"),
    ("", "C1", "5", "--pharmacy"),
    ("   ", "C1", "5", "--pharmacy"),
    ("PH1\nC9", "C1", "5", "--pharmacy"),
    ("PH1\r", "C1", "5", "--pharmacy"),
    ("PH\x001", "C1", "5", "--pharmacy"),
    ("PH\u20281", "C1", "5", "--pharmacy"),  # a YAML line break
    ("PH\u202e1", "C1", "5", "--pharmacy"),  # a bidi override
    (" PH1", "C1", "5", "--pharmacy"),
    ("P" * 65, "C1", "5", "--pharmacy"),
    ("PH1", "", "5", "--counter"),
    ("PH1", "C1\n", "5", "--counter"),
    ("PH1", "C\t1", "5", "--counter"),
    ("PH1", "C\x1b[2J", "5", "--counter"),
])
def test_confirm_refuses_bad_offsets_and_ids_as_config_errors(tmp_path, capsys, pharmacy, counter, offset, option):
    path = tmp_path / "cameras.yaml"
    path.write_text(CAMERAS, encoding="utf-8")
    assert confirm(path, pharmacy, counter, offset) == 3  # ConfigError's exit code
    err = capsys.readouterr().err
    assert f"rxaudit: error: {option} " in err and "Traceback" not in err
    assert path.read_text(encoding="utf-8") == CAMERAS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cameras.yaml"]


@pytest.mark.parametrize("pharmacy, offset", [("PH1", "86400"), ("PH1", "-86400"), ("药店 1", "0.25")])
def test_confirm_takes_offsets_up_to_a_day_and_ids_with_inner_spaces(tmp_path, pharmacy, offset):
    path = tmp_path / "cameras.yaml"
    path.write_text(CAMERAS, encoding="utf-8")
    assert confirm(path, pharmacy, "C1", offset, "--add") == 0
    assert load_cameras(path).counter(pharmacy, "C1").clock_offset_s == float(offset)


def test_confirm_writes_through_a_linked_cameras_file_keeping_link_and_mode(tmp_path):
    real = tmp_path / "etc" / "cams-v3.yaml"
    real.parent.mkdir()
    real.write_text(CAMERAS, encoding="utf-8")
    real.chmod(0o600)
    link = tmp_path / "cameras.yaml"
    link.symlink_to(real)
    assert confirm(link, offset="42") == 0
    assert link.is_symlink() and link.resolve() == real
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert load_cameras(real).counter("PH1", "C1").clock_offset_s == 42.0
    backup = real.with_name("cams-v3.yaml.bak")  # beside the file it backs up
    assert backup.read_text(encoding="utf-8") == CAMERAS and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert sorted(p.name for p in real.parent.iterdir()) == ["cams-v3.yaml", "cams-v3.yaml.bak"]  # no temp left


def test_confirm_refuses_a_link_to_nothing(tmp_path, capsys):
    link = tmp_path / "cameras.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    assert confirm(link) == 3 and "symbolic link to a missing file" in capsys.readouterr().err
    assert not (tmp_path / "gone.yaml").exists()


@pytest.mark.parametrize("plant", ["link", "dangling link", "folder"])
def test_confirm_never_follows_or_replaces_a_planted_backup(tmp_path, capsys, plant):
    path = tmp_path / "cameras.yaml"
    path.write_text(CAMERAS, encoding="utf-8")
    outside = tmp_path / "outside" / "authorized_keys"
    outside.parent.mkdir()
    bak = tmp_path / "cameras.yaml.bak"
    if plant == "link":
        outside.write_bytes(b"ssh-ed25519 AAAA admin\n")
        bak.symlink_to(outside)
    elif plant == "dangling link":
        bak.symlink_to(outside)
    else:
        bak.mkdir()
    assert confirm(path) == 3
    err = capsys.readouterr().err
    assert "cameras.yaml.bak: the backup path is a symbolic link or not a regular file" in err
    assert path.read_text(encoding="utf-8") == CAMERAS  # nothing written
    assert bak.is_symlink() == (plant != "folder")
    if plant == "link":
        assert outside.read_bytes() == b"ssh-ed25519 AAAA admin\n"
    else:
        assert not outside.exists()


def test_confirm_keeps_a_gb18030_file_byte_for_byte_as_its_backup(tmp_path):
    original = ("# 兰州 城关区 的 摄像头\npharmacies:\n  药店1:\n    business_hours: '08:30-20:00'\n"
                "    counters:\n      收银台1:\n        clock_offset_s: 3.5\n").encode("gb18030")
    path = tmp_path / "cameras.yaml"
    path.write_bytes(original)
    assert confirm(path, "药店1", "收银台1", "-7") == 0
    assert (tmp_path / "cameras.yaml.bak").read_bytes() == original
    after = load_cameras(path)
    assert after.counter("药店1", "收银台1").clock_offset_s == -7.0
    assert after.business_hours("药店1")[:2] == load_cameras(tmp_path / "cameras.yaml.bak").business_hours("药店1")[:2]


def test_a_huge_offset_already_in_cameras_yaml_is_a_config_error_at_audit(tmp_path, day, monkeypatch, capsys):
    settlements, videos = day
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text(CAMERAS.replace("PH1:", "PHX:") + "  PH1:\n    counters:\n      C1:\n"
                       "        clock_offset_s: 1.0e+300\n", encoding="utf-8")
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    monkeypatch.setattr(pipeline, "load_models", fake_models)
    code = main(["audit", "--settlements", str(settlements), "--videos", str(videos), "--cameras", str(cameras),
                 "--db", f"sqlite:///{tmp_path}/rx.db", "--evidence-dir", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert code == 3, err
    assert f"{cameras}: pharmacies.PH1.counters.C1.clock_offset_s: Input should be less than or equal" in err
