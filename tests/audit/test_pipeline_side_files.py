"""One bad row in ``purchases.csv``, ``stock.csv`` or ``settlement_items.csv`` never aborts an audit:
it is rejected with its file and line, every other row is audited and stored, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from database.engine import make_engine, session_factory
from database.models import PurchaseRow, RejectedRowRecord, SoldTraceCode, StockCountRow
from audit.pipeline import Models, audit
from tests.fakes import BrightBlockPersons, NoFaces

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
BEFORE = (T0 - timedelta(minutes=30)).isoformat()
CODE1, CODE2, CODE3 = "1" * 20, "2" * 20, "3" * 20
LOG = ("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
       f"S1,PH1,C1,{(T0 + timedelta(seconds=20)).isoformat()},CARD-A,10.00\n"
       f"S2,PH1,C1,{(T0 + timedelta(seconds=45)).isoformat()},CARD-B,11.00\n"
       f"S3,PH1,C2,{(T0 + timedelta(seconds=60)).isoformat()},CARD-C,12.00\n")
GOOD = {  # file -> (header, good rows); a bad row is appended as the file's last line
    "settlement_items.csv": ("settlement_id,item_code,item_name,quantity,unit_price,trace_codes",
                             [f"S1,D1,drug,1,10.00,{CODE1}", f"S2,D1,drug,1,11.00,{CODE2}",
                              f"S3,D2,drug,1,12.00,{CODE3}"]),
    "purchases.csv": ("pharmacy_id,item_code,quantity,received_at,supplier,invoice_no",
                      [f"PH1,D1,1,{BEFORE},SUP,INV1", f"PH1,D2,5,{BEFORE},SUP,INV2"]),
    "stock.csv": ("pharmacy_id,item_code,quantity,counted_at",
                  [f"PH1,D1,0,{(T0 - timedelta(hours=1)).isoformat()}",
                   f"PH1,D2,0,{(T0 - timedelta(hours=1)).isoformat()}"]),
}
LONG_ID, LONG_CODE = "P" * 65, "D" * 65
AT = (T0 - timedelta(minutes=10)).isoformat()
BAD = [  # (file, bad row, the column its reason names)
    ("purchases.csv", "PH1,D1,1,0001-01-01,S,I9", "received_at"),
    ("purchases.csv", "PH1,D1,1,9999-12-31T23:59:59-08:00,S,I9", "received_at"),
    ("purchases.csv", f"{LONG_ID},D1,1,{AT},S,I9", "pharmacy_id"),
    ("purchases.csv", f"PH1,{LONG_CODE},1,{AT},S,I9", "item_code"),
    ("purchases.csv", f"PH1,D1,1,{AT},S,{'I' * 65}", "invoice_no"),
    ("purchases.csv", f"PH1,D1,1,{AT},{'S' * 256},I9", "supplier"),
    ("purchases.csv", f"PH1,D1,10000000000,{AT},S,I9", "quantity"),
    ("purchases.csv", f"PH1,D1,1E+400,{AT},S,I9", "quantity"),
    ("purchases.csv", f"PH1,D1,NaN,{AT},S,I9", "quantity"),
    ("purchases.csv", f"PH1,D1,1.005,{AT},S,I9", "quantity"),
    ("stock.csv", "PH1,D3,1,0001-01-01", "counted_at"),
    ("stock.csv", "PH1,D3,1,9999-12-31T23:59:59-08:00", "counted_at"),
    ("stock.csv", f"{LONG_ID},D3,1,{AT}", "pharmacy_id"),
    ("stock.csv", f"PH1,{LONG_CODE},1,{AT}", "item_code"),
    ("stock.csv", f"PH1,D3,10000000000,{AT}", "quantity"),
    ("stock.csv", f"PH1,D3,1E+400,{AT}", "quantity"),
    ("stock.csv", f"PH1,D3,-Infinity,{AT}", "quantity"),
    ("settlement_items.csv", f"S3,{LONG_CODE},drug,1,1.00,{'4' * 20}", "item_code"),
    ("settlement_items.csv", "S3,D3,drug,10000000000,1.00,", "quantity"),
    ("settlement_items.csv", "S3,D3,drug,1E+400,1.00,", "quantity"),
    ("settlement_items.csv", "S3,D3,drug,1,1E+400,", "unit_price"),
    ("settlement_items.csv", "S3,D3,drug,1,Infinity,", "unit_price"),
    ("settlement_items.csv", f"{'S' * 65},D3,drug,1,1.00,", "settlement_id"),
]


def write_bundle(folder: Path, bad_file: str | None = None, bad_row: str = "") -> Path:
    (folder / "videos").mkdir(exist_ok=True)  # no footage: every settlement unverifiable, fast
    (folder / "settlements.csv").write_text(LOG, encoding="utf-8")
    for name, (header, rows) in GOOD.items():
        lines = [header, *rows, *([bad_row] if name == bad_file else [])]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "settlements.csv"


def run(settings, log: Path):
    return audit(settings, settlements_file=log, videos=log.parent / "videos",
                 models=Models(persons=BrightBlockPersons(), faces=NoFaces()))


def stored(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
            return {"purchases.csv": count(PurchaseRow), "stock.csv": count(StockCountRow),
                    "settlement_items.csv": count(SoldTraceCode), "rejected": count(RejectedRowRecord)}
    finally:
        engine.dispose()


@pytest.mark.parametrize("bad_file, bad_row, column", BAD,
                         ids=[f"{f.split('.')[0]}-{c}-{n}" for n, (f, _, c) in enumerate(BAD)])
def test_a_bad_side_row_is_rejected_and_the_rest_audited(tmp_path, make_settings, db_url,
                                                         bad_file, bad_row, column):
    log = write_bundle(tmp_path, bad_file, bad_row)
    report = run(make_settings(db_url=db_url), log)
    bad_line = len(GOOD[bad_file][1]) + 2
    # a bad item line of S3 rejects S3 too (its bill would be incomplete): its log row comes first
    incomplete = bad_row.startswith("S3,")
    assert [(r.source, r.line) for r in report.rejected] == [
        *([("settlements.csv", 4)] if incomplete else []), (bad_file, bad_line)]
    assert column in report.rejected[-1].reason and bad_row not in report.rejected[-1].reason
    summary = report.summary
    assert summary["rows_read"] == 3 and summary["audited"] == 3 - incomplete  # the log's rows
    assert summary["rejected"] == incomplete and summary["rejected_records"] == {bad_file: 1}
    counts = stored(db_url)
    # every good row of each side file is stored (items: one sold code per good line of an audited settlement)
    assert counts == {"purchases.csv": 2, "stock.csv": 2, "settlement_items.csv": 3 - incomplete,
                      "rejected": 1 + incomplete}
    kinds = {(r.settlement.settlement_id, str(f.kind)) for r in report.results for f in r.flags}
    assert ("S2", "stock_shortfall") in kinds  # the good rows were judged: S1 took D1's only unit


def test_an_infinite_purchase_no_longer_hides_a_shortfall(tmp_path, make_settings, db_url):
    log = write_bundle(tmp_path, "purchases.csv", f"PH1,D1,1E+400,{AT},S,I9")
    report = run(make_settings(db_url=db_url), log)
    kinds = {(r.settlement.settlement_id, str(f.kind)) for r in report.results for f in r.flags}
    assert ("S2", "stock_shortfall") in kinds
    assert [(r.source, r.line) for r in report.rejected] == [("purchases.csv", 4)]


def test_side_times_are_held_to_the_settings_range(tmp_path, make_settings, db_url):
    log = write_bundle(tmp_path, "stock.csv", "PH1,D3,1,2019-06-01T08:00:00+08:00")
    settings = make_settings(db_url=db_url, settled_at_min="2020-01-01T00:00:00+00:00")
    report = run(settings, log)
    assert [(r.source, r.line) for r in report.rejected] == [("stock.csv", 4)]
    assert "counted_at is outside 2020-01-01" in report.rejected[0].reason
