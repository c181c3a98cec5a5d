"""``audit`` with purchases and stock counts: the files given, else those beside the log; their bad
rows are rejected with file and line and the rest judged."""

from __future__ import annotations

import json

import pytest

from audit.pipeline import Models, audit
from tests.fakes import BrightBlockPersons, NoFaces
from tests.audit.test_pipeline import T0, bundle

ITEMS = "settlement_id,item_code,item_name,quantity,unit_price,trace_codes\n" \
        "S1,D1,drug,1,10.00,11111111111111111111\nS2,D1,drug,1,11.00,11111111111111111111\n" \
        "S3,D1,drug,1,12.00,2222\n"


@pytest.mark.parametrize("beside", [True, False])
def test_records_beside_the_log_or_given(beside, tmp_path, make_settings):
    csv_path, videos = bundle(tmp_path)
    (tmp_path / "settlement_items.csv").write_text(ITEMS, encoding="utf-8")
    folder = tmp_path if beside else tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    (folder / "stock.csv").write_text(
        f"pharmacy_id,item_code,quantity,counted_at\nPH1,D1,0,{T0.isoformat()}\nPH1,D1,x,{T0.isoformat()}\n")
    (folder / "purchases.csv").write_text(
        f"pharmacy_id,item_code,quantity,received_at,supplier,invoice_no\nPH1,D1,1,{T0.isoformat()},S,I\n")
    given = {} if beside else {"purchases_file": folder / "purchases.csv", "stock_file": folder / "stock.csv"}
    out = tmp_path / "flags.json"
    audit(make_settings(), settlements_file=csv_path, videos=videos, out=out,
          models=Models(persons=BrightBlockPersons(), faces=NoFaces()), **given)
    data = json.loads(out.read_text())
    kinds = {(f["settlement_id"], f["kind"]) for f in data["flags"] if f["kind"] in (
        "stock_shortfall", "trace_code_reuse")}
    # count 0 + 1 received at 10:00:00; S1 (10:00:20) takes it, S2 (10:00:45) has nothing left
    assert kinds == {("S2", "stock_shortfall"), ("S1", "trace_code_reuse"), ("S2", "trace_code_reuse")}
    rejected = {(r["source"], r["line"]) for r in data["rejected"]}
    assert {("stock.csv", 3), ("settlement_items.csv", 4)} <= rejected


def test_cli_takes_purchases_and_stock():
    from cli.main import build_parser

    args = build_parser().parse_args(["audit", "--settlements", "s.csv", "--videos", "v",
                                      "--purchases", "p.xlsx", "--stock", "st.csv"])
    assert (str(args.purchases), str(args.stock)) == ("p.xlsx", "st.csv")
    args = build_parser().parse_args(["audit", "--settlements", "s.csv", "--videos", "v"])
    assert args.purchases is None and args.stock is None


def test_batch_reads_the_records_beside_the_log_too(tmp_path, make_settings, monkeypatch):
    from audit import batch, batch_tasks

    csv_path, videos = bundle(tmp_path)
    (tmp_path / "settlement_items.csv").write_text(ITEMS, encoding="utf-8")
    (tmp_path / "stock.csv").write_text(f"pharmacy_id,item_code,quantity,counted_at\nPH1,D1,1,{T0.isoformat()}\n")
    monkeypatch.setattr(batch_tasks, "_models", lambda settings, key: Models(persons=BrightBlockPersons(),
                                                                             faces=NoFaces()))
    report = batch.run_batch(make_settings(), settlements_file=csv_path, videos=str(videos), workers=1,
                             show_progress=False)
    kinds = {(r.settlement.settlement_id, str(f.kind)) for r in report.results for f in r.flags}
    assert {("S2", "stock_shortfall"), ("S1", "trace_code_reuse"), ("S2", "trace_code_reuse")} <= kinds
    assert ("S1", "stock_shortfall") not in kinds
