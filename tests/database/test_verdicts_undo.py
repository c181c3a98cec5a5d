"""Verdict batches and their undo, clusters and evidence views, on SQLite and PostgreSQL (issue 26)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from database import audit_log, clusters, repository, verdicts
from database.accounts import add_user
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import AuditLogEntry, FlagRow, Pharmacy, Verdict, utcnow
from database.queries import get_flag
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind
from rxaudit.errors import NotFound
from rxaudit.security import Principal, Role, VerdictAction
from tests.factories import settlement

WINDOWS = {"verdict_undo_s": 120.0, "bulk_undo_s": 1800.0}


@pytest.fixture
def world(db_url):
    """Flags at PH1 (district A) and PH2 (district B); an inspector of A, another of A, a supervisor."""
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    visit = {"settlements": ["S1", "S2", "S3"], "distinct_cards": 3, "track_id": 1}
    with transaction(factory) as session:
        session.add_all([Pharmacy(pharmacy_id="PH1", name="a", district="A"),
                         Pharmacy(pharmacy_id="PH2", name="b", district="B")])
        users = {name: add_user(session, name=name, role=role, password="correct horse battery",
                                districts=districts).id
                 for name, role, districts in (("ia", Role.INSPECTOR, ["A"]), ("ia2", Role.INSPECTOR, ["A"]),
                                               ("sup", Role.SUPERVISOR, []))}
        run = repository.start_run(session, settlements_file="x", videos="v")
        for n, (sid, ph) in enumerate((("S1", "PH1"), ("S2", "PH1"), ("S3", "PH2"), ("S4", "PH1"))):
            repository.save_result(session, run_id=run, result=CheckResult(
                settlement(n, settlement_id=sid, pharmacy=ph, seconds=n * 10), CheckStatus.FLAGGED,
                (Flag(sid, FlagKind.CARD_POOLING, 0.8, "r"),), {}))
        session.flush()
        flags = {}
        for f in session.scalars(select(FlagRow)):
            f.evidence = {"items": [{"seen": visit if f.settlement_id != "S4" else {}}]}
            flags[f.settlement_id] = f.id
    people = {"ia": Principal("user", users["ia"], "ia", Role.INSPECTOR, frozenset({"A"})),
              "ia2": Principal("user", users["ia2"], "ia2", Role.INSPECTOR, frozenset({"A"})),
              "sup": Principal("user", users["sup"], "sup", Role.SUPERVISOR, None)}
    yield factory, flags, people
    engine.dispose()


def status(factory, flag_id: int) -> str:
    with factory() as session:
        return session.get_one(FlagRow, flag_id).review_status


def test_undo_restores_each_flags_status_before_and_repeats_the_verdict_before(world):
    factory, flags, who = world
    with transaction(factory) as session:
        verdicts.record_verdict(session, who["sup"], flag_id=flags["S1"], action=VerdictAction.DISMISS,
                                note="first", reason="clock_offset", boxes=[{"cls": "card", "box": [1, 2, 3, 4]}])
        given = verdicts.give(session, who["ia"], flag_ids=[flags["S1"], flags["S2"]], action=VerdictAction.CONFIRM)
        batch_id = given[0].id
    assert [v.batch_id for v in given] == [batch_id, batch_id] and [v.prev_status for v in given] == ["dismissed", "open"]
    with transaction(factory) as session:
        result = verdicts.undo(session, who["ia"], batch_id=batch_id, **WINDOWS)
    assert sorted(result.restored) == sorted([flags["S1"], flags["S2"]]) and result.kept == []
    assert (status(factory, flags["S1"]), status(factory, flags["S2"])) == ("dismissed", "open")
    with factory() as session:
        rows = list(session.scalars(select(Verdict).order_by(Verdict.id)))
        back = {v.flag_id: v for v in rows if v.undoes is not None}
        assert (back[flags["S1"]].action, back[flags["S1"]].reason, back[flags["S1"]].boxes) == \
            ("dismiss", "clock_offset", [{"cls": "card", "box": [1, 2, 3, 4]}])
        assert back[flags["S2"]].action == "reopen"
        assert verdicts.batch(session, batch_id).undone_at is not None


def test_only_the_author_undoes_only_once_only_in_time(world):
    factory, flags, who = world
    with transaction(factory) as session:
        batch_id = verdicts.give(session, who["ia"], flag_ids=[flags["S1"]], action=VerdictAction.ESCALATE)[0].id
    with transaction(factory) as session, pytest.raises(NotFound):
        verdicts.undo(session, who["ia2"], batch_id=batch_id, **WINDOWS)
    with transaction(factory) as session, pytest.raises(verdicts.UndoRefused):
        verdicts.undo(session, who["ia"], batch_id=batch_id, now=utcnow() + timedelta(seconds=121), **WINDOWS)
    assert status(factory, flags["S1"]) == "escalated"
    with transaction(factory) as session:
        verdicts.undo(session, who["ia"], batch_id=batch_id, **WINDOWS)
    with transaction(factory) as session, pytest.raises(verdicts.UndoRefused) as refused:
        verdicts.undo(session, who["ia"], batch_id=batch_id, **WINDOWS)
    assert refused.value.twice
    with pytest.raises(IntegrityError), transaction(factory) as session:  # the database says once too
        first = session.scalars(select(Verdict).where(Verdict.undoes.is_not(None))).one()
        session.add(Verdict(flag_id=flags["S1"], user_id=who["ia"].id, action="reopen", undoes=first.undoes))


def test_a_bulk_batch_has_the_longer_window_and_a_newer_verdict_is_kept(world):
    factory, flags, who = world
    with transaction(factory) as session:
        batch_id = verdicts.give(session, who["ia"], flag_ids=[flags["S1"], flags["S2"]], bulk=True,
                                 action=VerdictAction.DISMISS, reason="other")[0].id
        verdicts.record_verdict(session, who["ia2"], flag_id=flags["S2"], action=VerdictAction.CONFIRM, note="")
    with transaction(factory) as session:
        result = verdicts.undo(session, who["ia"], batch_id=batch_id, now=utcnow() + timedelta(minutes=20), **WINDOWS)
    assert result.restored == [flags["S1"]] and result.kept == [flags["S2"]]
    assert (status(factory, flags["S1"]), status(factory, flags["S2"])) == ("open", "confirmed")


def test_the_notice_shows_the_latest_batch_only_while_young(world):
    factory, flags, who = world
    with transaction(factory) as session:
        verdicts.give(session, who["ia"], flag_ids=[flags["S1"]], action=VerdictAction.CONFIRM)
        second = verdicts.give(session, who["ia"], flag_ids=[flags["S2"]], action=VerdictAction.ESCALATE)[0]
    with factory() as session:
        latest = verdicts.latest_batch(session, who["ia"], since=utcnow() - timedelta(seconds=120))
        assert latest.id == second.id and latest.flag_ids == [flags["S2"]]
        assert verdicts.latest_batch(session, who["ia2"], since=utcnow() - timedelta(seconds=120)) is None
        assert verdicts.latest_batch(session, who["ia"], since=utcnow() + timedelta(seconds=1)) is None


def test_a_cluster_holds_the_visible_flags_of_one_visit(world):
    factory, flags, who = world
    with factory() as session:
        view = get_flag(session, who["ia"], flags["S1"])
        assert [v.settlement.settlement_id for v in clusters.siblings(session, who["ia"], view, burst_window_s=300)] == ["S2"]
        view = get_flag(session, who["sup"], flags["S1"])
        assert [v.settlement.settlement_id for v in clusters.siblings(session, who["sup"], view, burst_window_s=300)] == ["S2", "S3"]
        alone = get_flag(session, who["ia"], flags["S4"])
        assert clusters.siblings(session, who["ia"], alone, burst_window_s=300) == []


def test_an_evidence_view_is_recorded_once_per_window(world):
    factory, flags, who = world
    now = utcnow()
    with transaction(factory) as session:
        first = audit_log.record_view(session, principal=who["ia"], flag_id=flags["S1"], what="clip", within_s=600, now=now)
        again = audit_log.record_view(session, principal=who["ia"], flag_id=flags["S1"], what="clip", within_s=600,
                                      now=now + timedelta(seconds=30))
        other = audit_log.record_view(session, principal=who["ia2"], flag_id=flags["S1"], what="clip", within_s=600, now=now)
        later = audit_log.record_view(session, principal=who["ia"], flag_id=flags["S1"], what="clip", within_s=600,
                                      now=now + timedelta(seconds=601))
        with pytest.raises(ValueError):
            audit_log.record_view(session, principal=who["ia"], flag_id=1, what="anything", within_s=0)
    assert first is not None and again is None and other is not None and later is not None
    with factory() as session:
        rows = list(session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "view_evidence")))
        assert len(rows) == 3 and {r.subject for r in rows} == {f"flag:{flags['S1']}:clip"}
