from __future__ import annotations

from zoneinfo import ZoneInfo

from database import queries, repository
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import Pharmacy
from rxaudit.domain import CheckResult, CheckStatus
from rxaudit.security import Principal
from tests.factories import settlement

TZ = ZoneInfo("Asia/Shanghai")
EVERYONE = Principal("user", 1, "sup", None, None)


def test_footfall_makes_the_lanzhou_pattern_stand_out(db_url):
    """196 swipes a day against 28 visitors at one pharmacy; an ordinary one beside it."""
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        session.add_all([Pharmacy(pharmacy_id="LZ1", name="Suspicious", district="D"),
                         Pharmacy(pharmacy_id="OK1", name="Ordinary", district="D")])
        run = repository.start_run(session, settlements_file="x", videos="v")
        for i in range(196):
            visit = {"track_id": i % 28, "start": f"t{i % 28}"}
            s = settlement(i, settlement_id=f"LZ{i}", pharmacy="LZ1", seconds=i * 120)
            repository.save_result(session, run_id=run, result=CheckResult(
                s, CheckStatus.CLEAN, (), {"visit": visit}))
        for i in range(40):
            s = settlement(i, settlement_id=f"OK{i}", pharmacy="OK1", seconds=i * 600)
            repository.save_result(session, run_id=run, result=CheckResult(
                s, CheckStatus.CLEAN, (), {"visit": {"track_id": i, "start": f"t{i}"}}))
    with factory() as session:
        rows = queries.footfall(session, EVERYONE, queries.FlagFilters(), TZ, alert_ratio=3.0,
                                alert_min_swipes=20)
    by_pharmacy = {}
    for r in rows:
        agg = by_pharmacy.setdefault(r["pharmacy_id"], [0, 0, False])
        agg[0] += r["settlements"]
        agg[1] += r["visitors"]
        agg[2] |= r["alert"]
    assert by_pharmacy["LZ1"][2] is True and by_pharmacy["OK1"][2] is False
    lz_days = [r for r in rows if r["pharmacy_id"] == "LZ1"]
    assert all(r["swipes_per_visitor"] >= 3 for r in lz_days if r["settlements"] >= 20)
    engine.dispose()


def test_scoped_principal_sees_only_its_districts(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        session.add(Pharmacy(pharmacy_id="PH1", name="n", district="A"))
        run = repository.start_run(session, settlements_file="x", videos="v")
        from rxaudit.domain import Flag, FlagKind
        for sid, ph in (("S1", "PH1"), ("S2", "PH2")):
            s = settlement(1, settlement_id=sid, pharmacy=ph)
            repository.save_result(session, run_id=run, result=CheckResult(
                s, CheckStatus.FLAGGED, (Flag(sid, FlagKind.BURST, 0.5, "r"),), {}))
    inspector = Principal("user", 2, "i", None, frozenset({"A"}))
    with factory() as session:
        page = queries.list_flags(session, inspector, queries.FlagFilters(), TZ)
        assert [v.settlement.settlement_id for v in page.items] == ["S1"]
        assert queries.list_flags(session, EVERYONE, queries.FlagFilters(), TZ).total == 2
    engine.dispose()
