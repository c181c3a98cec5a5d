"""A settlement whose item line is rejected is rejected with it, so nothing partial is stored and the
corrected export goes through later (it used to be stored without the line, and the corrected
export was then refused as a conflict for ever). Both databases."""

from __future__ import annotations

from database.engine import make_engine, session_factory
from database.models import SettlementRow
from audit.pipeline import Models, audit
from tests.fakes import BrightBlockPersons, NoFaces

LOG = ("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
       "T0,PHX,C1,2026-11-20T10:00:10+08:00,CARD-0,15.00\n"
       "T1,PHX,C1,2026-11-20T10:01:10+08:00,CARD-1,3.00\n")
ITEMS = ("settlement_id,item_code,item_name,quantity,unit_price\n"
         "T0,D1,drug,1,5.00\nT0,D2,other,2,{price}\nT1,D3,x,1,3.00\n")


def export(folder, price: str):
    folder.mkdir()
    (folder / "settlements.csv").write_text(LOG, encoding="utf-8")
    (folder / "settlement_items.csv").write_text(ITEMS.format(price=price), encoding="utf-8")
    return folder / "settlements.csv"


def stored_item_codes(settings, sid: str) -> list[str] | None:
    with session_factory(make_engine(settings.db_url))() as session:
        row = session.get(SettlementRow, sid)
        return None if row is None else [line["item_code"] for line in row.items["lines"]]


def test_the_corrected_export_is_accepted_after_a_rejected_item_line(db_url, tmp_path, make_settings):
    settings = make_settings(db_url=db_url)
    videos = tmp_path / "videos"
    videos.mkdir()
    models = Models(persons=BrightBlockPersons(), faces=NoFaces())

    typo = audit(settings, settlements_file=export(tmp_path / "a", "5.OO"), videos=videos, models=models)
    assert [(r.source, r.line) for r in typo.rejected] == [("settlements.csv", 2), ("settlement_items.csv", 3)]
    assert "item line 3 in settlement_items.csv" in typo.rejected[0].reason
    assert typo.summary["rows_read"] == typo.summary["audited"] + typo.summary["rejected"] == 2
    assert stored_item_codes(settings, "T0") is None  # nothing partial stored
    assert stored_item_codes(settings, "T1") == ["D3"]

    fixed = audit(settings, settlements_file=export(tmp_path / "b", "5.00"), videos=videos, models=models)
    assert fixed.rejected == [] and "conflicts" not in fixed.summary
    assert stored_item_codes(settings, "T0") == ["D1", "D2"]
