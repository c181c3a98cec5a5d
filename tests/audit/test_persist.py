"""Phase 2 at scale: a big run (results not kept, chunks, several commits) writes and reports exactly
what a small run does; the pieces it is made of."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from ingest.cameras import CamerasConfig, load_cameras
from reconcile.context import CounterFootage, CounterView, RuleConfig
from audit import footage_index, persist
from database.engine import make_engine, session_factory
from database.models import CheckRow, FlagRow
from rxaudit.domain import CheckResult, CheckStatus
from audit.pipeline import Models, audit
from tests.factories import T0, settlement
from tests.fakes import BrightBlockPersons, NoFaces
from tests.audit.test_pipeline import bundle


def log_only(tmp_path):
    """A busy morning at three pharmacies with no footage: bursts, a double charge, off hours."""
    rows = ["settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount,operator"]
    n = 0
    for pharmacy in ("PA", "PB", "PC"):
        for k in range(9):  # nine cards within minutes at C1: a burst
            at = T0 + timedelta(seconds=30 * k)
            rows.append(f"{pharmacy}-{n},{pharmacy},C1,{at.isoformat()},CARD{n % 7},9.50,OP{k}")
            n += 1
        rows.append(f"{pharmacy}-{n},{pharmacy},C2,{(T0 - timedelta(hours=4)).isoformat()},CARD{n},3.00,OP1")
        n += 1
    rows.append(f"PA-{n},PA,C2,{(T0 + timedelta(seconds=40)).isoformat()},CARD0,9.50,OP2")  # CARD0 again
    (tmp_path / "videos").mkdir()
    (tmp_path / "settlements.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path / "settlements.csv", tmp_path / "videos"


def db_rows(settings, folder):
    engine = make_engine(settings.db_url)
    with session_factory(engine)() as session:
        flags = sorted((f.settlement_id, f.kind, f.score, f.reason.replace(str(folder), "<dir>"), f.pharmacy_id)
                       for f in session.scalars(select(FlagRow)))
        checks = sorted((c.settlement_id, c.status) for c in session.scalars(select(CheckRow)))
        counts = kept_counts(session)
    engine.dispose()
    return flags, checks, counts


def kept_counts(session):
    """The counts kept for the wall, and the triggers that keep them."""
    tables = {t: sorted(map(tuple, session.execute(text(f"SELECT * FROM {t}")).all()))
              for t in ("flag_counts", "footfall_days", "footfall_visits")}
    triggers = sorted(session.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    indexes = sorted(map(tuple, session.execute(text(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")).all()))
    return tables, triggers, indexes


@pytest.mark.parametrize("make_bundle", [log_only, bundle])
def test_a_big_run_writes_and_reports_what_a_small_run_does(tmp_path, make_settings, monkeypatch,
                                                             make_bundle):
    models = Models(persons=BrightBlockPersons(), faces=NoFaces())
    outputs = {}
    for mode in ("small", "big"):
        folder = tmp_path / mode
        folder.mkdir()
        log, videos = make_bundle(folder)
        settings = make_settings(db_url=f"sqlite:///{folder}/rx.db", evidence_dir=str(folder / "evidence"))
        with monkeypatch.context() as m:
            if mode == "big":  # results not kept, chunks of one pharmacy, a commit every two chunks
                m.setattr(persist, "KEEP_RESULTS_MAX", 0)
                m.setattr(persist, "CHUNK", 1)
                m.setattr(persist, "COMMIT_EVERY", 12)
                m.setattr(persist, "ANALYZE_AFTER", 1)
                m.setattr(persist, "DEFER_COUNTS_MIN", 1)  # counts rebuilt at each commit, not by triggers
            report = audit(settings, settlements_file=log, videos=videos, out=folder / "flags.json",
                           models=models)
        data = json.loads((folder / "flags.json").read_text(encoding="utf-8").replace(str(folder), "<dir>"))
        outputs[mode] = (report, data, db_rows(settings, folder))
    (small, small_json, small_db), (big, big_json, big_db) = outputs["small"], outputs["big"]
    assert small.results and not big.results
    assert big.summary == small.summary and big_db == small_db
    assert len(big_db[2][1]) == 6 and big_db[2][0]["flag_counts"] and big_db[2][0]["footfall_days"]
    assert {"ix_flags_kind_settled_at", "ix_settlements_card_hash", "ix_checks_status"} <= {i[0] for i in big_db[2][2]}
    key = lambda f: (f["settlement_id"], f["kind"])  # noqa: E731
    assert sorted(big_json["flags"], key=key) == sorted(small_json["flags"], key=key)
    assert big_json["summary"] == small_json["summary"] and big_json["rejected"] == small_json["rejected"]
    assert len(small_json["flags"]) == sum(small.summary["flags_by_kind"].values())
    if make_bundle is log_only:
        assert {"burst", "duplicate_settlement", "off_hours", "unverifiable"} <= set(small.summary["flags_by_kind"])


def test_pharmacy_chunks_cut_only_between_pharmacies():
    results = [CheckResult(settlement(n, pharmacy=p), CheckStatus.CLEAN, (), {})
               for n, p in enumerate("AAABBCCCCD")]
    chunks = list(persist.pharmacy_chunks(results, size=2))
    assert [[r.settlement.pharmacy_id for r in c] for c in chunks] == [list("AAA"), list("BB"), list("CCCC"), ["D"]]
    assert [r for c in chunks for r in c] == results


def test_footage_of_unknown_counters_is_made_on_demand_and_equals_the_summary():
    cameras = footage_index.cached_cameras(load_cameras(None))
    config = RuleConfig()
    index = footage_index.FootageIndex(config, cameras)
    group = [settlement(1, counter="C9"), settlement(2, counter="C9", seconds=60)]
    index.add_unknown(("PH1", "C9"), group)
    view = CounterView(config, CamerasConfig(), CounterFootage(known=False))
    for s in group:
        made, expected = index[s.settlement_id], view.summarise(s)
        assert made.unverifiable == expected.unverifiable and made.seen == expected.seen
        assert index.is_unknown(s.settlement_id)
    assert index.get("nope") is None and len(index) == 2 and index.verified_ids() == set()


def test_cached_cameras_answer_like_the_configuration():
    cameras = CamerasConfig.model_validate(
        {"pharmacies": {"PH1": {"business_hours": "09:00-18:00", "counters": {"C1": {"clock_offset_s": 12}}}}})
    cached = footage_index.cached_cameras(cameras)
    for pharmacy, counter in (("PH1", "C1"), ("PH1", "C2"), ("PH2", "C1")):
        assert cached.counter(pharmacy, counter) == cameras.counter(pharmacy, counter)
        assert cached.camera_time(pharmacy, counter, T0) == cameras.camera_time(pharmacy, counter, T0)
        assert cached.business_hours(pharmacy) == cameras.business_hours(pharmacy)
    assert footage_index.cached_cameras(cached) is cached


def test_the_collector_is_paused_while_reading_and_restored_after():
    import gc

    assert gc.isenabled()
    with persist.gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), persist.gc_paused():
        raise RuntimeError("a bad file")
    assert gc.isenabled()


def test_the_batch_is_frozen_out_of_collections_while_written_then_let_go():
    import gc

    batch = [settlement(n) for n in range(100)]
    with persist.frozen_heap():
        assert gc.get_freeze_count() >= len(batch)
    assert gc.get_freeze_count() == 0


def test_unknown_counter_summaries_made_from_the_first_equal_those_made_in_full():
    cameras = footage_index.cached_cameras(load_cameras(None))
    config = RuleConfig()
    view = CounterView(config, cameras, CounterFootage(known=False))
    counter = footage_index.UnknownCounter(view)
    group = [settlement(n, counter="C9", seconds=37 * n * n) for n in range(1, 8)]
    made = [counter.summarise(s) for s in group]
    assert counter.trusted is True
    for s, got in zip(group, made):
        expected = view.summarise(s)
        assert (got.settlement_id, got.camera_time, got.unverifiable, got.seen) == (
            expected.settlement_id, expected.camera_time, expected.unverifiable, expected.seen)
    for got in made:  # each summary is its own, nested parts too: changing one leaves the rest
        for value in got.seen.values():
            if isinstance(value, dict):
                value["changed"] = True
    assert counter.summarise(group[0]).seen == view.summarise(group[0]).seen


def test_unknown_counter_summaries_that_differ_by_more_than_the_time_are_all_made_in_full():
    class Drifting(CounterView):  # a view whose summaries change with more than the camera time
        def seen_around(self, s, t, visit):
            return {**super().seen_around(s, t, visit), "hour": t.hour}

    view = Drifting(RuleConfig(), footage_index.cached_cameras(load_cameras(None)), CounterFootage(known=False))
    counter = footage_index.UnknownCounter(view)
    group = [settlement(n, counter="C9", seconds=3600 * n) for n in range(1, 5)]
    assert [counter.summarise(s).seen["hour"] for s in group] == [s.settled_at.hour for s in group]
    assert counter.trusted is False


def test_saved_chunks_wait_for_the_commit_and_a_rollback_undoes_them(db_url):
    """pysqlite opens no transaction before a SAVEPOINT: without an explicit BEGIN each chunk's
    savepoint was a transaction of its own, committed when released."""
    from sqlalchemy import func

    from database import repository
    from database.engine import migrate, transaction
    from database.models import SettlementRow

    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        run_id = repository.start_run(session, settlements_file="s.csv", videos="v")

    def count() -> int:
        with factory() as other:
            return other.scalar(select(func.count()).select_from(SettlementRow))

    session = factory()
    session.begin()
    persist.tune_for_bulk(session)
    for first in (1, 3):
        chunk = [CheckResult(settlement(n), CheckStatus.CLEAN, (), {}) for n in (first, first + 1)]
        saved, refused, _ = persist.save_chunk(session, run_id=run_id, results=chunk, keep_faces=True,
                                            source="s.csv")
        assert saved == chunk and not refused
    assert count() == 0  # nothing visible before the commit
    session.rollback()
    assert count() == 0
    session.begin()
    persist.save_chunk(session, run_id=run_id, results=[CheckResult(settlement(5), CheckStatus.CLEAN, (), {})],
                       keep_faces=True, source="s.csv")
    session.commit()
    session.close()
    assert count() == 1
    engine.dispose()


def test_a_big_run_that_fails_leaves_the_count_triggers_and_counts_as_they_were(tmp_path, make_settings,
                                                                                monkeypatch):
    log, videos = log_only(tmp_path)
    settings = make_settings()
    audit(settings, settlements_file=log, videos=videos)  # counts kept by the triggers
    engine = make_engine(settings.db_url)
    with session_factory(engine)() as session:
        before = kept_counts(session)
    assert len(before[1]) == 6 and before[0]["flag_counts"]
    monkeypatch.setattr(persist, "DEFER_COUNTS_MIN", 1)
    monkeypatch.setattr(persist, "CHUNK", 1)
    real_save, calls = persist.save_chunk, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(persist, "save_chunk", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        audit(settings, settlements_file=log, videos=videos)
    with session_factory(engine)() as session:
        assert kept_counts(session) == before
    engine.dispose()


@pytest.mark.parametrize(("run", "kept", "deferred"), [
    (10, 0, False),        # a small run: the triggers count
    (60_000, 0, True),     # a big run on an empty database: rebuilt in bulk
    (60_000, 50_000, True),
    (60_000, 900_000, False),  # a big run on a bigger database: a rebuild would scan it all
])
def test_counts_are_rebuilt_in_bulk_only_for_a_run_at_least_as_big_as_the_database(
        db_url, monkeypatch, run, kept, deferred):
    from database import aggregates
    from database.engine import migrate

    engine = make_engine(db_url)
    migrate(engine)
    monkeypatch.setattr(aggregates, "kept_rows", lambda session: kept)
    with session_factory(engine)() as session:
        session.begin()
        counts = persist.bulk_counts(session, "Asia/Shanghai", run)
        assert bool(counts.dropped) == (deferred and engine.dialect.name == "sqlite")
        counts.restore()
        session.commit()
        if engine.dialect.name == "sqlite":
            assert len(kept_counts(session)[1]) == 6
    engine.dispose()


def test_a_big_run_builds_the_plain_indexes_of_what_it_appends_once_per_commit(tmp_path, make_settings, monkeypatch):
    """SQLite: the plain indexes of settlements, checks and flags are dropped in the run's write
    transaction and created again before each commit (sorted, not entry by entry); another
    connection meanwhile sees them all, and a rollback brings them back."""
    log, videos = log_only(tmp_path)
    settings = make_settings(db_url=f"sqlite:///{tmp_path}/rx.db")
    seen_inside, seen_outside = [], []
    real_save = persist.save_chunk

    def index_names(session):
        return set(session.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('flags', 'settlements', "
            "'checks') AND sql IS NOT NULL")).scalars())

    def save_chunk(session, **kw):
        seen_inside.append(index_names(session))
        other = make_engine(settings.db_url)
        with session_factory(other)() as reader:
            seen_outside.append(index_names(reader))
        other.dispose()
        return real_save(session, **kw)

    monkeypatch.setattr(persist, "save_chunk", save_chunk)
    monkeypatch.setattr(persist, "DEFER_COUNTS_MIN", 1)
    audit(settings, settlements_file=log, videos=videos)
    assert seen_inside and all(not names for names in seen_inside)  # (the unique keys stay: not listed)
    assert all("ix_flags_kind_settled_at" in names and "ix_settlements_card_hash" in names for names in seen_outside)
    engine = make_engine(settings.db_url)
    with session_factory(engine)() as session:
        after = index_names(session)
        assert {"ix_flags_settled_at_id", "ix_flags_pharmacy_settled_at", "ix_checks_status"} <= after
        session.connection().exec_driver_sql("BEGIN")
        indexes = persist.bulk.BulkIndexes(session, enabled=True)
        indexes.suspend()
        assert not index_names(session)
        session.rollback()
        assert index_names(session) == after
    engine.dispose()
