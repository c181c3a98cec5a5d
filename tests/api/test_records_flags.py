"""The records kinds in the wall API and the review page, with their evidence (the stock ledger,
the linked settlements) — scoped to the district like every other flag."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from ingest.cameras import CamerasConfig
from database.engine import make_engine, migrate, session_factory
from rxaudit.domain import SettlementItem
from audit.pipeline import reconcile_and_save
from rxaudit.records import Records, StockCount
from tests.api.conftest import T0
from tests.factories import settlement

CODE = "3" * 20


def records_audit(settings) -> None:
    def sale(sid, pharmacy, minutes, card):
        return settlement(settlement_id=sid, pharmacy=pharmacy, seconds=3600 + minutes * 60, card=card,
                          items=(SettlementItem("D1", "drug", Decimal(1), Decimal("9.50"), trace_codes=(CODE,)),))

    sales = [sale("R1", "PH1", 0, "RING"), sale("R2", "PH1", 1, "OTHER"), sale("R3", "PH2", 3, "RING")]
    engine = make_engine(settings.db_url)
    migrate(engine)
    reconcile_and_save(settings, session_factory(engine), settlements=sales, footage={},
                       cameras=CamerasConfig(), rejected=[], rows_read=3, settlements_file="r.csv", videos="v",
                       records=Records(stock_counts=(StockCount("PH1", "D1", Decimal(1), T0),)))
    engine.dispose()


def test_wall_api_shows_the_records_kinds_with_evidence(city, client_for):
    records_audit(city.settings)
    client = client_for("key_a")  # district A: PH1 only
    shortfall = client.get("/api/v1/flags", params={"kind": "stock_shortfall"}).json()["items"]
    assert [f["settlement_id"] for f in shortfall] == ["R2"]
    ledger = shortfall[0]["evidence"][0]["seen"]["ledger"]
    assert (ledger["count"], ledger["sold_since"], ledger["balance"]) == (1, 2, -1)
    reuse = client.get("/api/v1/flags", params={"kind": "trace_code_reuse"}).json()["items"]
    assert {f["settlement_id"]: f["evidence"][0]["seen"]["linked_settlements"] for f in reuse} == {
        "R1": ["R2", "R3"], "R2": ["R1", "R3"]}  # R3 is in district B: linked, not listed
    conflict = client.get("/api/v1/flags", params={"kind": "card_conflict"}).json()["items"]
    assert [(f["settlement_id"], f["evidence"][0]["seen"]["linked_settlements"]) for f in conflict] == [
        ("R1", ["R3"])]
    assert "RING" not in str(conflict)
    other = client_for("key_b").get("/api/v1/flags", params={"kind": "card_conflict"}).json()["items"]
    assert [f["settlement_id"] for f in other] == ["R3"]


def test_review_page_shows_the_ledger_and_the_linked_settlements(city, client_for):
    import html

    records_audit(city.settings)
    api = client_for("key_all")
    by_kind = {k: api.get("/api/v1/flags", params={"kind": k}).json()["items"]
               for k in ("stock_shortfall", "trace_code_reuse", "card_conflict")}
    page = client_for("sup")
    shortfall = html.unescape(page.get(f"/flags/{by_kind['stock_shortfall'][0]['id']}").text)
    assert "D1" in shortfall and "1 more sold than the pharmacy had" in shortfall
    for kind in ("trace_code_reuse", "card_conflict"):
        flag = next(f for f in by_kind[kind] if f["settlement_id"] == "R1")
        text = page.get(f"/flags/{flag['id']}").text
        assert "R3" in text, kind  # the other settlement involved is named on the page
