"""Batch: same flags as a plain audit, on every executor; resumes after SIGKILL without loss or
duplicates; the segment index is listed once per counter and reused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, update

from ingest.video_store import segment_name
from audit.batch import run_batch
from database.engine import make_engine, session_factory
from database.models import BatchTask, CheckRow, FlagRow, SegmentListing
from audit.pipeline import audit
from tests.conftest import ROOT, TEST_KEY
from sample_footage.scene import paste, sprite_frames
from tests.factories import T0
from tests.videos import make_clip

COUNTERS = [(f"PH{p}", f"C{c}") for p in range(1, 4) for c in range(1, 3)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """Six counters, a customer from 10 s to 30 s on each, swipes at 20 s (clean), 45 s (nobody)
    and 100 s (the clip has ended); one more on an unknown counter."""
    root = tmp_path_factory.mktemp("batch")
    frames = [person_frame(10 <= k / 10 < 30, k) for k in range(60 * 10)]
    rows = ["settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount"]
    for n, (pharmacy, counter) in enumerate(COUNTERS):
        make_clip(root / "videos" / pharmacy / counter / segment_name(T0), 60, fps=10, frames=frames)
        for k, sec in enumerate((20, 45, 100)):
            rows.append(f"S{n}{k},{pharmacy},{counter},{(T0 + timedelta(seconds=sec)).isoformat()},CARD{n}{k},{n}.{k}0")
    rows.append(f"SX,PH1,C9,{T0.isoformat()},CARDX,1.00")
    (root / "settlements.csv").write_text("\n".join(rows) + "\n")
    return root


def person_frame(present: bool, k: int) -> np.ndarray:
    """A grey counter; when ``present``, a real person (a sprite cut from CC BY footage) stands there."""
    image = np.full((180, 320, 3), 120, np.uint8)
    if present:
        sprites = sprite_frames("worker")
        paste(image, sprites[(k // 3) % len(sprites)], 110, 175, 150)
    return image


def flags_of(report):
    return sorted((f.settlement_id, str(f.kind)) for r in report.results for f in r.flags)


def counts(db_url):
    with session_factory(make_engine(db_url))() as session:
        return (session.scalar(select(func.count()).select_from(CheckRow)),
                session.scalar(select(func.count()).select_from(FlagRow)),
                session.scalar(select(func.count()).select_from(
                    select(FlagRow.settlement_id, FlagRow.kind).distinct().subquery())))


@pytest.fixture(scope="module")
def reference(bundle, tmp_path_factory):
    from rxaudit.settings import load_settings
    tmp = tmp_path_factory.mktemp("ref")
    settings = load_settings(db_url=f"sqlite:///{tmp}/ref.db", evidence_dir=str(tmp / "ev"), card_hash_key=TEST_KEY)
    return flags_of(audit(settings, settlements_file=bundle / "settlements.csv", videos=bundle / "videos"))


def test_reference_audit_sees_the_scenes(reference):
    kinds = dict()
    for sid, kind in reference:
        kinds.setdefault(kind, set()).add(sid)
    assert kinds["no_customer"] == {f"S{n}1" for n in range(6)}
    assert kinds["unverifiable"] == {f"S{n}2" for n in range(6)} | {"SX"}


def test_batch_in_process_equals_audit_and_reuses_everything(bundle, reference, make_settings):
    settings = make_settings()
    first = run_batch(settings, settlements_file=bundle / "settlements.csv", videos=str(bundle / "videos"),
                      workers=1, show_progress=False)
    assert flags_of(first) == reference
    assert first.summary["store_listings"] == 6 + 1  # each counter listed once (one unknown)
    again = run_batch(settings, settlements_file=bundle / "settlements.csv", videos=str(bundle / "videos"),
                      workers=1, show_progress=False)
    assert again.summary["tasks_run_now"] == 0 and again.summary["store_listings"] == 0
    assert flags_of(again) == reference
    assert counts(settings.db_url) == (19, len(reference), len(reference))


def test_local_processes_give_the_same_flags(bundle, reference, make_settings):
    report = run_batch(make_settings(), settlements_file=bundle / "settlements.csv",
                       videos=str(bundle / "videos"), workers=2, show_progress=False)
    assert report.summary["executor"] == "2 local processes"
    assert flags_of(report) == reference


def test_a_new_batch_over_the_same_day_does_not_list_the_store_again(bundle, tmp_path, make_settings):
    settings = make_settings()
    run_batch(settings, settlements_file=bundle / "settlements.csv", videos=str(bundle / "videos"),
              workers=1, show_progress=False)
    other = tmp_path / "second.csv"  # another log (another batch) over the same counters and day
    lines = (bundle / "settlements.csv").read_text().splitlines()
    other.write_text("\n".join([lines[0]] + [line.replace(",S", ",T").replace("S", "T", 1) for line in lines[1:4]]) + "\n")
    second = run_batch(settings, settlements_file=other, videos=str(bundle / "videos"), workers=1,
                       show_progress=False)
    assert second.summary["store_listings"] == 0
    with session_factory(make_engine(settings.db_url))() as session, session.begin():
        # pretend PH1/C1 was listed long before these swipes: only that counter is listed again
        session.execute(update(SegmentListing).where(SegmentListing.pharmacy_id == "PH1",
                                                     SegmentListing.counter_id == "C1")
                        .values(listed_at=T0 - timedelta(days=1)))
    other.write_text(other.read_text() + "\n")  # a changed file is a new batch
    third = run_batch(settings, settlements_file=other, videos=str(bundle / "videos"), workers=1,
                      show_progress=False)
    assert third.summary["store_listings"] == 1


def test_date_filter(bundle, make_settings):
    report = run_batch(make_settings(), settlements_file=bundle / "settlements.csv",
                       videos=str(bundle / "videos"), day=date(2026, 11, 21), workers=1, show_progress=False)
    assert report.summary["audited"] == 0


def test_resume_after_sigkill_loses_nothing_and_duplicates_nothing(bundle, reference, tmp_path):
    db = f"sqlite:///{tmp_path}/kill.db"
    env = {**os.environ, "RXAUDIT_CARD_HASH_KEY": TEST_KEY, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "cli.main", "batch", "--settlements", str(bundle / "settlements.csv"),
            "--videos", str(bundle / "videos"), "--db", db, "--evidence-dir", str(tmp_path / "ev"),
            "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    engine = make_engine(db)
    done = total = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with session_factory(engine)() as session:
                total = session.scalar(select(func.count()).select_from(BatchTask)) or 0
                done = session.scalar(select(func.count()).select_from(BatchTask).where(BatchTask.status == "done")) or 0
        except Exception:  # noqa: BLE001 - tables not created yet
            pass
        if total and 1 <= done < total:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    assert counts(db)[0] == 0  # killed before the rules ran: nothing half-written
    resumed = subprocess.run(args + ["--out", str(tmp_path / "flags.json")], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{total - done} tasks run now" in resumed.stdout
    data = json.loads((tmp_path / "flags.json").read_text())
    assert sorted((f["settlement_id"], f["kind"]) for f in data["flags"]) == reference
    assert counts(db) == (19, len(reference), len(reference))
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(BatchTask).where(BatchTask.status != "done")) == 0


def test_ray_executor_gives_the_same_flags(bundle, reference, make_settings):
    pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray
    try:
        report = run_batch(make_settings(), settlements_file=bundle / "settlements.csv",
                           videos=str(bundle / "videos"), workers=2, ray_address="local", show_progress=False)
    finally:
        ray.shutdown()
    assert report.summary["executor"] == "ray (local)"
    assert flags_of(report) == reference
