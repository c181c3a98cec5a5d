"""Live equals batch (issue 28): a sample bundle's settlements fed one by one, in time order, into the
live inbox and audited by the live worker give the same (kind, settlement_id) flags as ``rxaudit audit``
of the same bundle into a fresh database afterwards; and the worker's CPU-s per settlement is measured.

The sample's day holds every cross-settlement case (burst, duplicate, card pooling in one visit and by
one face across pharmacies, card conflict, trace-code reuse, stock shortfall) and missing, corrupt and
unknown-counter footage. ``RXAUDIT_LIVE_SAMPLE``: a bundle already written (``rxaudit sample --seed 1``),
to skip rendering it again while developing."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from audit.live import LiveAuditor
from audit.live_worker import Worker
from audit.pipeline import audit, load_models
from database import accounts, feed, inbox, live_queue, repository
from database import records as records_db
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import CheckRow, FlagRow, LiveSettlement
from ingest.cameras import load_cameras
from ingest.records import read_records
from ingest.settlements import IngestOptions, read_settlements
from ingest.video_store import LocalVideoStore
from sample_footage.generator import write_bundle
from vision.detection_memo import memo_stats

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    given = os.environ.get("RXAUDIT_LIVE_SAMPLE")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("live") / "sample"
    write_bundle(out, 1)
    return out


def flags_of(url: str) -> set[tuple[str, str]]:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        found = set(session.execute(select(FlagRow.kind, FlagRow.settlement_id)).all())
    engine.dispose()
    return found


def scores_of(url: str) -> dict[tuple[str, str], tuple[float, str]]:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        found = {(k, sid): (score, reason) for k, sid, score, reason in session.execute(
            select(FlagRow.kind, FlagRow.settlement_id, FlagRow.score, FlagRow.reason))}
    engine.dispose()
    return found


def statuses_of(url: str) -> dict[str, tuple[str, str | None]]:
    """Each check's status and visit key (the footfall counts count distinct visit keys)."""
    engine = make_engine(url)
    with session_factory(engine)() as session:
        found = {sid: (status, key) for sid, status, key in session.execute(
            select(CheckRow.settlement_id, CheckRow.status, CheckRow.visit_key))}
    engine.dispose()
    return found


def run_live(settings, bundle: Path, models) -> tuple[int, float, dict]:
    """Every settlement of the bundle into the inbox, one at a time in time order, the worker run
    until idle after each; returns (settlements done, worker CPU seconds, the models' memo hits)."""
    options = IngestOptions.from_settings(settings)
    log = read_settlements(bundle / "settlements.csv", settings.require_card_key(), settings.item_catalogue,
                           options=options)
    records, _ = read_records(bundle / "settlements.csv", options=options)
    engine = make_engine(settings.db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:  # what batch reads beside the log, stored as an import would
        accounts.register_pharmacies(session, entries=records.pharmacies, source="pharmacies.csv")
        records_db.save_purchases(session, purchases=records.purchases)
        records_db.save_stock_counts(session, counts=records.stock_counts)
        run_id = repository.start_run(session, settlements_file="live:test", videos=str(bundle / "videos"))
    cameras = load_cameras(bundle / "cameras.yaml", settings.input_encoding)
    auditor = LiveAuditor(settings, cameras, LocalVideoStore(bundle / "videos"), factory, run_id=run_id,
                          models=models)
    worker = Worker(auditor, factory, settings, "test-worker", threading.Event())
    cpu = 0.0
    for s in sorted(log.settlements, key=lambda s: (s.settled_at, s.settlement_id)):
        with transaction(factory) as session:  # through the inbox's own door (POST and JetStream use it)
            accepted = inbox.accept(session, settlements=[s], source="api", settings=settings)
            assert [str(o) for o in accepted.outcomes] == ["stored"]
        c0 = time.process_time()
        worker.run(until_idle=True)
        cpu += time.process_time() - c0
    with factory() as session:
        assert live_queue.counts(session) == {"done": len(log.settlements), "due": 0}
    engine.dispose()
    stats = auditor.stats
    print(f"\nlive: {stats['chained']} swipes decoded again with a later one; rules and save "
          f"{stats['save_s'] / max(stats['settled'], 1) * 1000:.0f} ms a settlement (wall)")
    return worker.done, cpu, memo_stats(auditor.models)


def test_live_flags_equal_batch_flags(bundle, make_settings, tmp_path, db_url):
    live = make_settings(db_url=db_url, evidence_dir=str(tmp_path / "ev-live"), live_max_wait_s=0)
    batch = make_settings(db_url=f"sqlite:///{tmp_path}/batch.db", evidence_dir=str(tmp_path / "ev-batch"))
    models = load_models(live)
    done, cpu, memo = run_live(live, bundle, models)
    # the frames of neighbouring swipes were answered from the memo (live_memo_frames): same flags below
    assert memo["persons"]["hits"] > 0 and memo["objects"]["hits"] > 0, memo
    report = audit(batch, settlements_file=bundle / "settlements.csv", videos=bundle / "videos",
                   cameras_file=bundle / "cameras.yaml", models=models)
    print(f"\nlive worker: {done} settlements, {cpu:.1f} CPU-s, {cpu / done:.2f} CPU-s per settlement; "
          f"batch: {report.stats['cpu_s']:.1f} CPU-s, {report.stats['cpu_s'] / done:.2f} per settlement")
    live_flags, batch_flags = flags_of(live.db_url), flags_of(batch.db_url)
    kinds = {kind for kind, _ in batch_flags}
    # the day has every kind of pattern across settlements, so the equality below is about them
    assert {"burst", "duplicate_settlement", "card_pooling", "card_conflict", "trace_code_reuse",
            "stock_shortfall", "no_customer", "unverifiable"} <= kinds
    assert sorted(live_flags - batch_flags) == [] and sorted(batch_flags - live_flags) == []
    assert statuses_of(live.db_url) == statuses_of(batch.db_url)
    # scores are equal but where batch judged a counter-day's camera clock suspect from the whole day's
    # swipes (no_customer lowered): live judges the day so far, so only the later ones are lowered
    live_scores, batch_scores = scores_of(live.db_url), scores_of(batch.db_url)
    differ = {key for key in live_scores if live_scores[key][0] != batch_scores[key][0]}
    assert all(kind == "no_customer" and "camera clock suspect" in batch_scores[(kind, sid)][1]
               for kind, sid in differ), sorted(differ)
    lowered = {key for key in live_scores if "camera clock suspect" in live_scores[key][1]}
    assert lowered and lowered.isdisjoint(differ)  # the day so far marked some of them already
    engine = make_engine(live.db_url)
    with session_factory(engine)() as session:  # the wall's event stream carries every one of them
        assert len(feed.flags_after(session, after_id=0, limit=1000)) == len(live_flags)
    engine.dispose()


def test_two_workers_catching_up_a_backlog_give_the_batch_flags(bundle, make_settings, tmp_path, db_url):
    """The whole day in the inbox at once (an outage's backlog), two ``rxaudit live`` worker processes on
    PostgreSQL: each settlement done once, both workers took a share, and the flags equal batch's."""
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers: PostgreSQL")
    import signal
    import subprocess
    import sys

    settings = make_settings(db_url=db_url)
    options = IngestOptions.from_settings(settings)
    log = read_settlements(bundle / "settlements.csv", settings.require_card_key(), None, options=options)
    records, _ = read_records(bundle / "settlements.csv", options=options)
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        accounts.register_pharmacies(session, entries=records.pharmacies, source="pharmacies.csv")
        records_db.save_purchases(session, purchases=records.purchases)
        records_db.save_stock_counts(session, counts=records.stock_counts)
        inbox.accept(session, settlements=log.settlements, source="api", settings=settings)
    env = {**os.environ, "RXAUDIT_CARD_HASH_KEY": "test-card-hash-key-0123456789", "RXAUDIT_LIVE_MAX_WAIT_S": "0",
           "RXAUDIT_LIVE_POLL_S": "0.2", "RXAUDIT_EVIDENCE_DIR": str(tmp_path / "ev-live")}
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "live", "--db", db_url, "--cameras",
                             str(bundle / "cameras.yaml"), "--videos", str(bundle / "videos"), "--workers", "2"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 400
        while True:
            with factory() as session:
                if live_queue.counts(session).get("done") == len(log.settlements):
                    break
            assert time.monotonic() < deadline and proc.poll() is None, "workers stopped or timed out"
            time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with factory() as session:
        rows = session.execute(select(LiveSettlement.claimed_by, LiveSettlement.attempts)).all()
    engine.dispose()
    assert {a for _, a in rows} == {1} and len({by for by, _ in rows}) == 2
    batch = make_settings(db_url=f"sqlite:///{tmp_path}/batch.db", evidence_dir=str(tmp_path / "ev-batch"))
    audit(batch, settlements_file=bundle / "settlements.csv", videos=bundle / "videos",
          cameras_file=bundle / "cameras.yaml")
    assert flags_of(db_url) == flags_of(batch.db_url)
    assert statuses_of(db_url) == statuses_of(batch.db_url)
