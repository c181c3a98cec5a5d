"""A settlement id seen again: same content is audited again (idempotent); other content is rejected
as a conflict (file, line, the stored run), never written over the stored settlement, and a reviewed
flag never follows it into another pharmacy. Both databases; the plain audit and the batch path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from reconcile.conflicts import Conflict, Stored, differing, screen
from database.conflicts import listing
from database.engine import make_engine, session_factory
from database.models import FlagRow, RejectedRowRecord, SettlementRow
from rxaudit.domain import Settlement, SettlementItem
from audit.pipeline import Models, audit
from tests.fakes import BrightBlockPersons, NoFaces

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
HEADER = "settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount"


def row(sid: str, pharmacy: str = "PHX", counter: str = "C1", sec: int = 0, card: str = "CARD-1",
        amount: str = "10.00") -> str:
    return f"{sid},{pharmacy},{counter},{(T0 + timedelta(seconds=sec)).isoformat()},{card},{amount}"


FIRST = [row("S1", sec=10), row("S2", sec=40, card="CARD-2", amount="11.00"), row("S3", sec=70, amount="12.00")]


def write_log(folder, name: str, rows: list[str], header: str = HEADER):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder / name


def run_audit(settings, path, videos, via: str):
    """The plain audit or the batch path (no footage here: nothing is decoded either way)."""
    models = Models(persons=BrightBlockPersons(), faces=NoFaces())
    if via == "audit":
        return audit(settings, settlements_file=path, videos=videos, models=models)
    from audit.batch import run_batch
    return run_batch(settings, settlements_file=path, videos=str(videos), workers=1, show_progress=False)


def stored_s2(settings):
    with session_factory(make_engine(settings.db_url))() as session:
        s = session.get(SettlementRow, "S2")
        flag = session.scalar(select(FlagRow).where(FlagRow.settlement_id == "S2"))
        return ((s.pharmacy_id, s.counter_id, s.settled_at, s.amount, s.card_hash),
                (flag.review_status, flag.pharmacy_id, flag.settled_at, flag.reason))


def confirm_flags_of(settings, sid: str) -> None:
    engine = make_engine(settings.db_url)
    with session_factory(engine)() as session, session.begin():
        session.execute(update(FlagRow).where(FlagRow.settlement_id == sid).values(review_status="confirmed"))


@pytest.fixture
def batch_models(monkeypatch):
    from audit import batch_tasks
    monkeypatch.setattr(batch_tasks, "_models", lambda settings, key: Models(persons=BrightBlockPersons(),
                                                                             faces=NoFaces()))


@pytest.mark.parametrize("via", ["audit", "batch"])
def test_a_reused_id_with_other_content_is_rejected_and_the_confirmed_flag_stays(
        via, db_url, tmp_path, make_settings, batch_models):
    settings = make_settings(db_url=db_url)
    videos = tmp_path / "videos"
    videos.mkdir()
    first = run_audit(settings, write_log(tmp_path / "a", "settlements.csv", FIRST), videos, via)
    confirm_flags_of(settings, "S2")
    before = stored_s2(settings)
    assert before[1][0] == "confirmed" and before[0][:2] == ("PHX", "C1")

    other = write_log(tmp_path / "b", "other.csv", [row("S4", "PHY", "C9", sec=5, card="CARD-4"),
                                                     row("S2", "PHY", "C9", sec=500, card="CARD-9", amount="2.00")])
    report = run_audit(settings, other, videos, via)

    assert stored_s2(settings) == before  # settlement, verdict, pharmacy, time, amount: all as they were
    [rejected] = report.rejected
    assert (rejected.source, rejected.line) == ("other.csv", 3)
    assert rejected.reason == (f"settlement_id conflicts with the settlement stored by run {first.run_id} "
                               "(different pharmacy_id, counter_id, settled_at, card_hash, amount): "
                               "the stored one is kept")
    assert "PHY" not in rejected.reason and "2.00" not in rejected.reason
    assert {r.settlement.settlement_id for r in report.results} == {"S4"}
    summary = report.summary
    assert summary["conflicts"] == 1 and summary["rejected"] == 1
    assert summary["rows_read"] == summary["audited"] + summary["rejected"] == 2
    with session_factory(make_engine(settings.db_url))() as session:
        [listed] = listing(session)
        assert (listed.run_id, listed.source, listed.line, listed.settlement_id, listed.stored_run_id) == (
            report.run_id, "other.csv", 3, "S2", first.run_id)
        assert listed.fields == ("pharmacy_id", "counter_id", "settled_at", "card_hash", "amount")
        assert session.scalars(select(RejectedRowRecord.reason).where(
            RejectedRowRecord.run_id == report.run_id)).all() == [rejected.reason]


def test_the_same_content_again_is_audited_again(db_url, tmp_path, make_settings):
    """Idempotent as before, whatever the export's formatting: another offset, amount scale, extra
    columns (not compared: see reconcile.conflicts) and item line order."""
    settings = make_settings(db_url=db_url)
    videos = tmp_path / "videos"
    videos.mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "settlement_items.csv").write_text(
        "settlement_id,item_code,item_name,quantity,unit_price\nS2,D1,drug,1,5.00\nS2,D2,other,2,3.00\n")
    run_audit(settings, write_log(tmp_path / "a", "settlements.csv", FIRST), videos, "audit")
    confirm_flags_of(settings, "S2")
    before = stored_s2(settings)

    again = (T0 + timedelta(seconds=40)).astimezone(UTC).isoformat()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "settlement_items.csv").write_text(
        "settlement_id,item_code,item_name,quantity,unit_price\nS2,D2,other,2.0,3\nS2,D1,drug,1,5\n")
    log = write_log(tmp_path / "b", "settlements.csv", [f"S2,PHX,C1,{again},CARD-2,11,by hand"],
                    header=HEADER + ",remark")
    report = run_audit(settings, log, videos, "audit")
    assert report.rejected == [] and "conflicts" not in report.summary
    assert [r.settlement.settlement_id for r in report.results] == ["S2"]
    assert stored_s2(settings) == before


def test_one_file_repeating_an_id_keeps_the_first_row(db_url, tmp_path, make_settings):
    """Within one file the first row wins; the later one is rejected with its line, whatever it holds."""
    settings = make_settings(db_url=db_url)
    videos = tmp_path / "videos"
    videos.mkdir()
    log = write_log(tmp_path, "settlements.csv", [row("S1"), row("S1", "PHY", "C9", amount="2.00"), row("S1")])
    report = run_audit(settings, log, videos, "audit")
    assert [(r.line, r.reason) for r in report.rejected] == [(3, "settlement_id repeats line 2"),
                                                             (4, "settlement_id repeats line 2")]
    with session_factory(make_engine(settings.db_url))() as session:
        s = session.get(SettlementRow, "S1")
        assert (s.pharmacy_id, s.amount) == ("PHX", Decimal("10.00"))


def test_a_conflicting_row_decodes_nothing_and_leaves_the_keyframe(tmp_path, make_settings):
    """Keyframes are named by settlement id: a conflicting row must not reach the footage stage."""
    from tests.audit.test_pipeline import bundle

    settings = make_settings()
    csv_path, videos = bundle(tmp_path)
    models = Models(persons=BrightBlockPersons(), faces=NoFaces())
    first = audit(settings, settlements_file=csv_path, videos=videos, models=models)
    [keyframe] = [f.evidence[0].keyframe for r in first.results for f in r.flags if f.settlement_id == "S2"]
    drawn = (settings.evidence_dir / keyframe).read_bytes()
    calls = models.persons.calls
    # S2 (nobody at 45 s) said again at 20 s, when a customer is there: other content
    log = write_log(tmp_path / "b", "settlements.csv", [row("S2", "PH1", "C1", sec=20, card="CARD-B",
                                                               amount="11.00")])
    report = audit(settings, settlements_file=log, videos=videos, models=models)
    assert report.summary["conflicts"] == 1 and report.results == []
    assert models.persons.calls == calls
    assert (settings.evidence_dir / keyframe).read_bytes() == drawn


def settlement(**changes) -> Settlement:
    values = dict(settlement_id="S1", pharmacy_id="PHX", counter_id="C1", settled_at=T0, card_hash="h1",
                  amount=Decimal("10.00"), items=(SettlementItem("D1", "drug", Decimal("1"), Decimal("5.00")),
                                                  SettlementItem("D2", "pill", Decimal("2"), Decimal("2.50"))),
                  extra={"operator": "A"}, line=2)
    values.update(changes)
    return Settlement(**values)


@pytest.mark.parametrize("changes, fields", [
    ({}, ()),
    ({"settled_at": T0.astimezone(UTC), "amount": Decimal("10"), "extra": {"remark": "x"}, "line": 9}, ()),
    ({"items": (SettlementItem("D2", "pill", Decimal("2.0"), Decimal("2.5")),
                SettlementItem("D1", "drug", Decimal("1"), Decimal("5")))}, ()),
    ({"pharmacy_id": "PHY"}, ("pharmacy_id",)),
    ({"counter_id": "C9"}, ("counter_id",)),
    ({"settled_at": T0 + timedelta(microseconds=1)}, ("settled_at",)),
    ({"card_hash": "h2"}, ("card_hash",)),
    ({"amount": Decimal("10.01")}, ("amount",)),
    ({"items": ()}, ("items",)),
    ({"items": (SettlementItem("D1", "drug", Decimal("2"), Decimal("5.00")),
                SettlementItem("D2", "pill", Decimal("2"), Decimal("2.50")))}, ("items",)),
    ({"pharmacy_id": "PHY", "amount": Decimal("2")}, ("pharmacy_id", "amount")),
])
def test_what_makes_other_content(changes, fields):
    assert differing(settlement(**changes), Stored.of(settlement())) == fields


def test_the_stored_row_is_read_as_written():
    items = {"lines": [
        {"item_code": "D2", "item_name": "pill", "quantity": "2", "unit_price": "2.50", "category": "other"},
        {"item_code": "D1", "item_name": "drug", "quantity": "1", "unit_price": "5.00"}]}
    stored = Stored.from_row("PHX", "C1", T0.astimezone(UTC), "h1", Decimal("10.00"), items)
    assert differing(settlement(), stored) == ()
    assert differing(settlement(), Stored.from_row("PHX", "C1", T0, "h1", Decimal("10.00"), None)) == ("items",)


def test_screen_keeps_new_and_equal_ids_and_rejects_other_content():
    stored = {"S1": Stored.of(settlement()), "S2": Stored.of(settlement())}
    new, same = settlement(settlement_id="S9"), settlement()
    other = settlement(settlement_id="S2", pharmacy_id="PHY", line=5)
    kept, conflicts = screen([new, same, other], stored, source="log.csv")
    assert kept == [new, same]
    assert conflicts == [Conflict("S2", "log.csv", 5, None, ("pharmacy_id",))]
    assert conflicts[0].rejected().reason == ("settlement_id conflicts with the settlement stored by an "
                                              "earlier run (different pharmacy_id): the stored one is kept")


@pytest.mark.parametrize("via", ["audit", "batch"])
def test_an_id_stored_by_another_audit_after_this_one_screened_its_log_is_a_conflict_too(
        via, db_url, tmp_path, make_settings, batch_models, monkeypatch):
    """Two audits at once: the second screened its log before the first stored S2. Its save screens
    the chunk again in the writing transaction, so S2 is rejected there, never written over."""
    from audit import pipeline

    settings = make_settings(db_url=db_url)
    videos = tmp_path / "videos"
    videos.mkdir()
    run_audit(settings, write_log(tmp_path / "a", "settlements.csv", FIRST), videos, "audit")
    confirm_flags_of(settings, "S2")
    before = stored_s2(settings)
    from audit import batch

    def unscreened(factory, settlements, source):
        return list(settlements), []

    monkeypatch.setattr(pipeline, "screen_conflicts", unscreened)
    monkeypatch.setattr(batch, "screen_conflicts", unscreened)
    second = run_audit(settings, write_log(tmp_path / "b", "settlements.csv",
                                           [row("S2", pharmacy="PHY", counter="C9", sec=40, amount="2.00"),
                                            row("S9", pharmacy="PHY", counter="C9", sec=50)]), videos, via)
    assert stored_s2(settings) == before
    summary = second.summary
    assert summary["conflicts"] == 1 and summary["rejected"] == 1 and summary["audited"] == 1
    assert [(r.line, "conflicts with the settlement stored by run 1" in r.reason) for r in second.rejected] == [
        (2, True)]
    with session_factory(make_engine(settings.db_url))() as session:
        assert [(c.settlement_id, c.line) for c in listing(session)] == [("S2", 2)]
        assert session.get(SettlementRow, "S9").pharmacy_id == "PHY"
