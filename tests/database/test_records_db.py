"""The records side in the database, on SQLite and PostgreSQL: codes sold in an earlier audit are
found again, purchases and counts are stored once, pharmacy coordinates feed card_conflict."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ingest.cameras import CamerasConfig
from database import records as records_db
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import CheckRow, FlagRow, Pharmacy, PurchaseRow, SoldTraceCode, StockCountRow
from rxaudit.domain import SettlementItem
from audit.pipeline import reconcile_and_save
from rxaudit.records import Purchase, Records, StockCount
from tests.factories import T0, settlement

CODE_A, CODE_B = "1" * 20, "2" * 20


def setup(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    return engine, session_factory(engine)


def sale(n, *, days=0.0, codes=(), qty=1, pharmacy="PH1", **kw):
    return settlement(n, seconds=days * 86400, pharmacy=pharmacy, items=(
        SettlementItem("D1", "drug", Decimal(qty), Decimal("5.00"), trace_codes=tuple(codes)),), **kw)


def audit(factory, settings, settlements, records=None):
    _, results, _ = reconcile_and_save(settings, factory, settlements=settlements, footage={},
                                       cameras=CamerasConfig(), rejected=[], rows_read=len(settlements),
                                       settlements_file="s.csv", videos="v", records=records)
    return {r.settlement.settlement_id: sorted(str(f.kind) for f in r.flags if str(f.kind) != "unverifiable")
            for r in results}


def stored_kinds(factory):
    with factory() as session:
        return sorted(tuple(row) for row in session.execute(select(FlagRow.settlement_id, FlagRow.kind).where(
            FlagRow.kind != "unverifiable")).all())


def test_a_code_sold_in_an_earlier_audit_flags_both(db_url, make_settings):
    engine, factory = setup(db_url)
    settings = make_settings(db_url=db_url)
    assert audit(factory, settings, [sale(1, codes=[CODE_A])]) == {"S1": []}
    assert audit(factory, settings, [sale(1, codes=[CODE_A])]) == {"S1": []}  # the same audit again
    assert audit(factory, settings, [sale(2, days=20, pharmacy="PH2", codes=[CODE_A, CODE_B], qty=2)]) == {
        "S2": ["trace_code_reuse"]}
    assert stored_kinds(factory) == [("S1", "trace_code_reuse"), ("S2", "trace_code_reuse")]
    with factory() as session:
        flag = session.scalar(select(FlagRow).where(FlagRow.settlement_id == "S1",
                                                    FlagRow.kind == "trace_code_reuse"))
        assert flag.evidence["items"][0]["seen"] == {"reused_codes": [CODE_A], "codes_total": 1,
                                                     "linked_settlements": ["S2"], "partners_total": 1}
        assert session.get(CheckRow, "S1").status != "clean"
        assert session.scalar(select(func.count()).select_from(SoldTraceCode)) == 3
    # the earlier audit run again finds the later sale in the database
    assert audit(factory, settings, [sale(1, codes=[CODE_A])]) == {"S1": ["trace_code_reuse"]}
    engine.dispose()


def test_purchases_and_counts_are_stored_once_and_judged(db_url, make_settings):
    engine, factory = setup(db_url)
    settings = make_settings(db_url=db_url)
    records = Records(purchases=(Purchase("PH1", "D1", Decimal(1), T0 - timedelta(hours=1), "S", "I1"),),
                      stock_counts=(StockCount("PH1", "D1", Decimal(1), T0 - timedelta(hours=2)),))
    sales = [sale(1), sale(2, days=0.01), sale(3, days=0.02)]
    for _ in range(2):
        assert audit(factory, settings, sales, records) == {"S1": [], "S2": [], "S3": ["stock_shortfall"]}
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(PurchaseRow)) == 1
        assert session.scalar(select(func.count()).select_from(StockCountRow)) == 1
    engine.dispose()


def test_pharmacy_coordinates_from_the_registry(db_url, make_settings):
    engine, factory = setup(db_url)
    settings = make_settings(db_url=db_url)
    with transaction(factory) as session:
        session.add_all([Pharmacy(pharmacy_id="PH1", name="A", district="D", lat=36.0, lon=103.8),
                         Pharmacy(pharmacy_id="PH2", name="B", district="D", lat=36.0, lon=104.8)])
    with factory() as session:
        assert set(records_db.locations(session)) == {"PH1", "PH2"}
    pair = [sale(1, card="C"), sale(2, days=1 / 24, pharmacy="PH2", card="C")]  # 90 km in an hour
    assert audit(factory, settings, pair) == {"S1": ["card_conflict"], "S2": ["card_conflict"]}
    engine.dispose()


def test_pharmacies_load_takes_optional_coordinates(db_url, tmp_path):
    from database.accounts import load_pharmacies

    engine, factory = setup(db_url)
    path = tmp_path / "pharmacies.csv"
    path.write_text("pharmacy_id,name,district,lat,lon\nPH1,A,D,36.06,103.83\nPH2,B,D,,\nPH3,C,D,91,0\n",
                    encoding="utf-8")
    with transaction(factory) as session:
        loaded, problems = load_pharmacies(session, path=path)
    assert loaded == 2 and len(problems) == 1 and problems[0].startswith("line 4:")
    with factory() as session:
        assert {k: (v.lat, v.lon) for k, v in records_db.locations(session).items()} == {"PH1": (36.06, 103.83)}
    engine.dispose()


def test_a_corrected_stock_count_replaces_the_stored_one(db_url):
    engine, factory = setup(db_url)
    at = T0 - timedelta(hours=2)
    for quantity, written in ((5, 1), (5, 0), (7, 1)):
        with transaction(factory) as session:
            assert records_db.save_stock_counts(
                session, counts=[StockCount("PH1", "D1", Decimal(quantity), at)]) == written
    with factory() as session:
        assert [r.quantity for r in session.scalars(select(StockCountRow))] == [Decimal(7)]
    engine.dispose()


def test_pharmacies_load_reads_chinese_headers_in_gb18030(db_url, tmp_path):
    from database.accounts import load_pharmacies

    engine, factory = setup(db_url)
    path = tmp_path / "pharmacies.csv"
    path.write_bytes("定点机构编码,机构名称,所属区县,纬度,经度\nPH1,城关大药房,城关区,36.06,103.83\n".encode("gb18030"))
    with transaction(factory) as session:
        assert load_pharmacies(session, path=path) == (1, [])
    with factory() as session:
        row = session.get(Pharmacy, "PH1")
        assert (row.name, row.district, row.lat) == ("城关大药房", "城关区", 36.06)
    engine.dispose()


@pytest.mark.parametrize("header", ["pharmacy_id,name,district,licensee,address",
                                    "定点机构编码,机构名称,所属区县,经营者,经营地址"])
def test_pharmacies_load_takes_the_licensee_and_address_for_case_files(db_url, tmp_path, header):
    from database.accounts import load_pharmacies

    engine, factory = setup(db_url)
    path = tmp_path / "pharmacies.csv"
    path.write_text(f"{header}\nPH1,城关大药房,城关区,张三,兰州市城关区东岗西路 1 号\nPH2,B,D,,\n"
                    f"PH3,C,D,{'x' * 300},\n", encoding="utf-8")
    with transaction(factory) as session:
        loaded, problems = load_pharmacies(session, path=path)
    assert loaded == 2 and len(problems) == 1 and problems[0].startswith("line 4:")  # a 300-char licensee
    with factory() as session:
        assert [(r.pharmacy_id, r.operator, r.address) for r in session.scalars(
            select(Pharmacy).order_by(Pharmacy.pharmacy_id))] == [
            ("PH1", "张三", "兰州市城关区东岗西路 1 号"), ("PH2", None, None)]
    engine.dispose()


def test_codes_held_compactly_are_stored_and_found_again(db_url, make_settings):
    """The audit's reader keeps the codes in a SoldCodes, off the lines: stored and matched the same."""
    from dataclasses import replace

    from rxaudit.records import SoldCodes

    engine, factory = setup(db_url)
    settings = make_settings(db_url=db_url)

    def compact(*sales):
        bare = [replace(s, items=tuple(replace(i, trace_codes=()) for i in s.items)) for s in sales]
        return bare, Records(sold_codes=SoldCodes.of(sales))

    assert audit(factory, settings, *compact(sale(1, codes=[CODE_A]))) == {"S1": []}
    assert audit(factory, settings, *compact(sale(2, days=20, pharmacy="PH2", codes=[CODE_A, CODE_B], qty=2))) == {
        "S2": ["trace_code_reuse"]}
    assert stored_kinds(factory) == [("S1", "trace_code_reuse"), ("S2", "trace_code_reuse")]
    with factory() as session:
        assert sorted(tuple(r) for r in session.execute(
            select(SoldTraceCode.code, SoldTraceCode.settlement_id, SoldTraceCode.line_no))) == [
            (CODE_A, "S1", 1), (CODE_A, "S2", 1), (CODE_B, "S2", 1)]


def test_one_card_at_two_pharmacies_across_two_audits_flags_both(db_url, make_settings):
    engine, factory = setup(db_url)
    settings = make_settings(db_url=db_url)
    first = settlement(1, card="RING", pharmacy="PH1")
    second = settlement(2, card="RING", pharmacy="PH2", seconds=300)  # 5 min later, another pharmacy
    assert audit(factory, settings, [first]) == {"S1": []}
    assert audit(factory, settings, [second]) == {"S2": ["card_conflict"]}
    assert stored_kinds(factory) == [("S1", "card_conflict"), ("S2", "card_conflict")]
    with factory() as session:
        flag = session.scalar(select(FlagRow).where(FlagRow.settlement_id == "S1", FlagRow.kind == "card_conflict"))
        assert flag.evidence["items"][0]["seen"] == {"linked_settlements": ["S2"]}
        assert "RING" not in flag.reason and "S2" in flag.reason
    # the earlier audit run again finds the later settlement in the database; far apart: nothing
    assert audit(factory, settings, [first]) == {"S1": ["card_conflict"]}
    assert audit(factory, settings, [settlement(3, card="RING", pharmacy="PH3", seconds=7200)]) == {"S3": []}
    engine.dispose()
