"""The live worker (issue 28) on small real clips: a settlement waits for its footage and is audited
once it is in the store; without footage after live_max_wait_s it is unverifiable, the recorder's gap
named; a row claimed too often is finished as unverifiable; on PostgreSQL a worker killed with -9
mid-settlement leaves it to be done again once and flagged once, and two worker processes share a
backlog with nothing done twice and nothing lost; SQLite refuses more than one worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from audit.live import LiveAuditor
from audit.live_worker import Worker
from database import cameras as cameras_db
from database import live_queue, repository
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import CheckRow, FlagRow, LiveSettlement, utcnow
from ingest.cameras import CamerasConfig
from ingest.video_store import LocalVideoStore, segment_name
from tests.factories import settlement
from tests.videos import make_clip

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
ROOT = Path(__file__).resolve().parents[2]


def clip(videos: Path, pharmacy: str, counter: str, start: datetime = T0, seconds: float = 60) -> None:
    make_clip(videos / pharmacy / counter / segment_name(start), seconds, fps=4, size=(320, 192))


def put(factory, rows) -> None:
    with transaction(factory) as session:
        session.execute(insert(LiveSettlement), [live_queue.row_values(s, source="api", due_at=due)
                                                 for s, due in rows])


def setup(settings, videos: Path):
    engine = make_engine(settings.db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        run_id = repository.start_run(session, settlements_file="live:test", videos=str(videos))
    auditor = LiveAuditor(settings, CamerasConfig(), LocalVideoStore(videos), factory, run_id=run_id)
    return engine, factory, Worker(auditor, factory, settings, "w-test", threading.Event())


def row(factory, sid: str) -> LiveSettlement:
    with factory() as session:
        return session.get(LiveSettlement, sid)


def flags(factory, sid: str) -> list[tuple[str, str]]:
    with factory() as session:
        return sorted(session.execute(select(FlagRow.kind, FlagRow.reason).where(FlagRow.settlement_id == sid)).all())


def test_waits_for_footage_then_audits_and_without_it_is_unverifiable_gap_named(db_url, make_settings, tmp_path):
    videos = tmp_path / "videos"
    clip(videos, "PH1", "C1", seconds=20)  # through 10:00:20: a swipe at 10:00:30 needs 10:00:36
    settings = make_settings(db_url=db_url, live_max_wait_s=3600, live_poll_s=0.1)
    engine, factory, worker = setup(settings, videos)
    now = utcnow()
    put(factory, [(settlement(1, seconds=30), now - timedelta(seconds=1)),
                  (settlement(2, counter="C9", seconds=30), now - timedelta(seconds=1))])
    worker.run(until_idle=True)  # neither has footage yet: both given back, no attempt spent
    assert [(row(factory, sid).state, row(factory, sid).attempts) for sid in ("S1", "S2")] == [("pending", 0)] * 2
    clip(videos, "PH1", "C1", start=T0 + timedelta(seconds=20), seconds=40)  # the recorder catches up
    with transaction(factory) as session:  # C9's camera went offline; the recorder logged it
        gap = cameras_db.open_gap(session, pharmacy_id="PH1", counter_id="C9", start=T0, reason="cannot read the stream")
        cameras_db.close_gap(session, pharmacy_id="PH1", counter_id="C9", end=T0 + timedelta(minutes=5))
        session.execute(update(LiveSettlement).values(lease_until=None))  # no need to wait out the pause
        assert gap
    worker.settings = settings.model_copy(update={"live_max_wait_s": 0})  # C9's wait is over
    worker.run(until_idle=True)
    s1, s2 = row(factory, "S1"), row(factory, "S2")
    assert (s1.state, s1.outcome, s1.attempts) == ("done", "flagged", 1)
    assert [kind for kind, _ in flags(factory, "S1")] == ["no_customer"]  # frames decoded, nobody there
    assert (s2.state, s2.outcome) == ("done", "unverifiable")
    [(kind, reason)] = flags(factory, "S2")
    assert kind == "unverifiable" and reason.startswith("footage not recorded: camera not recording 10:00:00")
    assert "cannot read the stream" in reason and "no footage of counter PH1/C9 through 10:00:36" in reason
    engine.dispose()


def test_a_row_claimed_too_often_is_finished_unverifiable(make_settings, tmp_path):
    settings = make_settings(live_max_attempts=2)
    engine, factory, worker = setup(settings, tmp_path)
    put(factory, [(settlement(1), utcnow() - timedelta(seconds=5))])
    with transaction(factory) as session:  # two workers died on it
        session.execute(update(LiveSettlement).values(state="claimed", claimed_by="dead", attempts=2,
                                                      lease_until=utcnow() - timedelta(seconds=1)))
    worker.run(until_idle=True)
    assert (row(factory, "S1").state, row(factory, "S1").attempts) == ("done", 3)
    [(kind, reason)] = flags(factory, "S1")
    assert kind == "unverifiable" and "did not finish in 2 attempts" in reason
    engine.dispose()


def test_sqlite_refuses_several_workers(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cli.main", "live", "--db", f"sqlite:///{tmp_path}/x.db",
                          "--videos", str(tmp_path), "--workers", "2"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 3 and "--workers 2 needs PostgreSQL" in out.stderr


def _live(db_url: str, videos: Path, tmp_path: Path, *args: str, lease_s: float = 60) -> subprocess.Popen:
    env = {**os.environ, "RXAUDIT_CARD_HASH_KEY": "test-card-hash-key-0123456789", "RXAUDIT_LIVE_LEASE_S": str(lease_s),
           "RXAUDIT_LIVE_POLL_S": "0.2", "RXAUDIT_EVIDENCE_DIR": str(tmp_path / "evidence")}
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "live", "--db", db_url, "--videos", str(videos), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    STARTED.append(proc)
    return proc


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _reap():
    """Worker processes a failed test left behind are killed (their process groups)."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait(what, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kill_9_mid_settlement_is_done_again_once_and_flagged_once(db_url, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers and a killed one: PostgreSQL")
    videos = tmp_path / "videos"
    clip(videos, "PH1", "C1")
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    put(factory, [(settlement(1, seconds=30), utcnow() - timedelta(seconds=1))])
    first = _live(db_url, videos, tmp_path, lease_s=3)
    _wait(lambda: row(factory, "S1").state == "claimed")  # claimed, its models loading: mid-settlement
    first.kill()  # SIGKILL: no cleanup, the lease is left to run out
    first.wait()
    assert row(factory, "S1").state == "claimed"
    second = _live(db_url, videos, tmp_path, "--until-idle", lease_s=3)
    assert second.wait(timeout=180) == 0, second.stdout.read()
    done = row(factory, "S1")
    assert (done.state, done.attempts, done.outcome) == ("done", 2, "flagged")
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(CheckRow)) == 1
        assert session.execute(select(FlagRow.kind, func.count()).group_by(FlagRow.kind)).all() == [("no_customer", 1)]
    engine.dispose()


def test_two_worker_processes_share_a_backlog_nothing_twice_nothing_lost(db_url, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers: PostgreSQL")
    videos = tmp_path / "videos"
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    rows = []
    for c in range(6):  # an hour's outage: every row due long ago, three swipes per counter
        clip(videos, "PH1", f"C{c}")
        rows += [(settlement(10 * c + k, counter=f"C{c}", seconds=5 + 18 * k, card=f"K{c}{k}"),
                  utcnow() - timedelta(hours=1)) for k in range(3)]
    put(factory, rows)
    workers = _live(db_url, videos, tmp_path, "--workers", "2")
    with factory() as session:
        _wait(lambda: live_queue.counts(session).get("done") == len(rows), timeout=300)
    workers.send_signal(signal.SIGTERM)
    assert workers.wait(timeout=120) == 0, workers.stdout.read()
    with factory() as session:
        done = session.execute(select(LiveSettlement.claimed_by, LiveSettlement.attempts, LiveSettlement.state)).all()
        assert {(a, s) for _, a, s in done} == {(1, "done")}  # each claimed once, none lost
        assert len({by for by, _, _ in done}) == 2  # both processes took a share
        assert session.scalar(select(func.count()).select_from(CheckRow)) == len(rows)
        per_kind = session.execute(select(FlagRow.settlement_id, FlagRow.kind, func.count())
                                   .group_by(FlagRow.settlement_id, FlagRow.kind)).all()
        assert {n for _, _, n in per_kind} == {1} and len(per_kind) == len(rows)  # one no_customer each
    engine.dispose()


def test_backlog_share_is_spread_evenly_over_claims(make_settings, tmp_path):
    """With a share of 0.25 and one row a claim, every fourth claim goes to the backlog first; with
    four rows a claim, one of each claim's four."""
    settings = make_settings(live_backlog_share=0.25)
    one = Worker(None, None, settings.model_copy(update={"live_batch": 1}), "w", threading.Event())
    assert [one.backlog_n(1) for _ in range(8)] == [0, 0, 0, 1, 0, 0, 0, 1]
    assert [one.backlog_n(4) for _ in range(3)] == [1, 1, 1]
    none = Worker(None, None, make_settings(live_backlog_share=0), "w", threading.Event())
    assert sum(none.backlog_n(4) for _ in range(10)) == 0


def test_a_crashed_worker_loop_is_restarted_after_a_pause(make_settings, tmp_path, monkeypatch, caplog):
    """The database refuses the first claim (an outage): the loop crashes, is started again after 1 s,
    with the models it had, and does the work."""
    from audit import live_worker

    videos = tmp_path / "videos"
    clip(videos, "PH1", "C1")
    settings = make_settings(live_poll_s=0.1)
    engine = make_engine(settings.db_url)
    migrate(engine)
    put(session_factory(engine), [(settlement(1, seconds=30), utcnow() - timedelta(seconds=1))])
    real, calls = live_queue.claim, []

    def flaky(session, **kw):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OSError("connection refused")
        return real(session, **kw)

    monkeypatch.setattr(live_queue, "claim", flaky)
    done = live_worker.supervise(settings, cameras_file=None, videos=str(videos), stop=threading.Event(),
                                 until_idle=True)
    assert done == 1 and calls[1] - calls[0] >= 1.0 and "crashed; restarting in 1 s" in caplog.text
    assert row(session_factory(engine), "S1").state == "done"
    engine.dispose()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_one_worker_stops_cleanly_on_sigterm_and_sigint(sig, tmp_path):
    proc = _live(f"sqlite:///{tmp_path}/rx.db", tmp_path, tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path}/rx.db")

    def started() -> bool:  # migrated, its run started: polling the empty inbox
        try:
            with engine.connect() as conn:
                return bool(conn.exec_driver_sql("SELECT count(*) FROM audit_runs").scalar())
        except Exception:  # noqa: BLE001 - not migrated yet
            return False

    _wait(started, timeout=60)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0, proc.stdout.read()
    with engine.connect() as conn:  # its run is closed: the loop ended, not the process torn down
        assert conn.exec_driver_sql("SELECT finished_at IS NOT NULL FROM audit_runs").scalar() == 1
    engine.dispose()


def test_a_database_down_at_start_is_tried_again(make_settings, tmp_path, monkeypatch, caplog):
    from audit import live_worker

    settings = make_settings(live_poll_s=0.1)
    real, calls = repository.start_run, []

    def flaky(session, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("connection refused")
        return real(session, **kw)

    engine = make_engine(settings.db_url)
    migrate(engine)
    monkeypatch.setattr(live_worker.repository, "start_run", flaky)
    assert live_worker.supervise(settings, cameras_file=None, videos=str(tmp_path), stop=threading.Event(),
                                 until_idle=True) == 0
    assert len(calls) == 2 and "crashed; restarting in 1 s" in caplog.text
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_runs WHERE finished_at IS NOT NULL").scalar() == 1
    engine.dispose()
