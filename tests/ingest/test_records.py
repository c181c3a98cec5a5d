"""Readers of purchases, stock counts, pharmacy coordinates and traceability codes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ingest.fields import IngestOptions
from ingest.header_map import load_aliases
from ingest.reasons import RowError
from ingest.records import read_locations, read_purchases, read_records, read_stock, trace_codes
from rxaudit.errors import ConfigError, InputError

TZ = timezone(timedelta(hours=8))
CODE = "8" * 20


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_purchases_good_and_bad_rows(tmp_path):
    path = write(tmp_path / "purchases.csv", (
        "pharmacy_id,item_code,quantity,received_at,supplier,invoice_no\n"
        "PH1,D1,10,2026-11-20T08:00:00+08:00,国药控股,INV1\n"
        "PH1,D1,0,2026-11-20T08:00:00+08:00,S,INV2\n"        # line 3: zero received
        "PH1,D1,5,20.11.2026 08:00,S,INV3\n"                 # line 4: not a time
        ",D1,5,2026-11-20T08:00:00+08:00,S,INV4\n"           # line 5: no pharmacy
        "PH1,D1,5,2026-11-20T08:00:00+08:00,S\n"             # line 6: a field short
        "PH2,D2,2.5,2026-11-21T09:30:00+08:00,,\n"))
    rows, rejected = read_purchases(path)
    assert [(p.pharmacy_id, p.item_code, p.quantity, p.supplier, p.invoice_no) for p in rows] == [
        ("PH1", "D1", Decimal(10), "国药控股", "INV1"), ("PH2", "D2", Decimal("2.5"), "", "")]
    assert rows[0].received_at == datetime(2026, 11, 20, 8, tzinfo=TZ)
    assert [(r.source, r.line) for r in rejected] == [("purchases.csv", n) for n in (3, 4, 5, 6)]
    assert "quantity" in rejected[0].reason and "received_at" in rejected[1].reason


def test_stock_counts_and_a_missing_column(tmp_path):
    path = write(tmp_path / "stock.csv", "pharmacy_id,item_code,quantity,counted_at\n"
                                         "PH1,D1,0,2026-11-20T07:00:00+08:00\nPH1,D1,-1,2026-11-20T07:00:00+08:00\n")
    rows, rejected = read_stock(path)
    assert [(c.quantity, c.counted_at.hour) for c in rows] == [(Decimal(0), 7)]
    assert [(r.line, "quantity" in r.reason) for r in rejected] == [(3, True)]
    write(path, "pharmacy_id,item_code,quantity\nPH1,D1,1\n")
    with pytest.raises(InputError, match="counted_at"):
        read_stock(path)


def test_chinese_headers_in_gb18030(tmp_path):
    path = write(tmp_path / "stock.csv", "定点机构编码,药品编码,盘点数量,盘点时间\nPH1,D1,3,2026-11-20T07:00:00+08:00\n",
                 encoding="gb18030")
    rows, rejected = read_stock(path, IngestOptions(aliases=load_aliases()))
    assert not rejected and [(c.pharmacy_id, c.item_code, c.quantity) for c in rows] == [("PH1", "D1", 3)]


def test_locations_optional_and_checked(tmp_path):
    path = write(tmp_path / "pharmacies.csv", (
        "pharmacy_id,name,district,lat,lon\nPH1,A,D,36.06,103.83\nPH2,B,D,,\nPH3,C,D,95,103\nPH4,D,D,36.1,\n"))
    where, rejected = read_locations(path)
    assert list(where) == ["PH1"] and where["PH1"].lat == 36.06
    assert [r.line for r in rejected] == [4, 5]
    write(path, "pharmacy_id,name,district\nPH1,A,D\n")
    assert read_locations(path) == ({}, [])


@pytest.mark.parametrize("raw, codes", [
    ("", ()), (None, ()), (CODE, (CODE,)), (f"{CODE};{'1' * 20}", (CODE, "1" * 20)),
    (f" {CODE} ; {'1' * 20};", (CODE, "1" * 20)),
])
def test_trace_codes(raw, codes):
    assert trace_codes(raw) == codes


@pytest.mark.parametrize("raw", ["123", f"{CODE};;{CODE}", f"{CODE}x", "8" * 21, f"{CODE},{CODE}"])
def test_bad_trace_codes_name_the_column_not_the_code(raw):
    with pytest.raises(RowError, match="trace_codes") as info:
        trace_codes(raw)
    assert CODE not in str(info.value)


def test_records_beside_the_log_and_given_files(tmp_path):
    log = write(tmp_path / "settlements.csv", "settlement_id\n")
    assert read_records(log)[0].purchases == ()
    write(tmp_path / "purchases.csv", "pharmacy_id,item_code,quantity,received_at\nPH1,D1,1,2026-11-20T08:00:00+08:00\n")
    other = write(tmp_path / "other_stock.csv", "pharmacy_id,item_code,quantity,counted_at\nPH1,D1,1,bad\n")
    records, rejected = read_records(log, stock=other)
    assert len(records.purchases) == 1 and records.stock_counts == ()
    assert [(r.source, r.line) for r in rejected] == [("other_stock.csv", 2)]


def test_column_map_file_extends_and_is_strict(tmp_path):
    extra = write(tmp_path / "map.yaml", "社会保障卡号: card_id\n")
    assert load_aliases(extra)["社会保障卡号"] == "card_id" and load_aliases(extra)["结算流水号"] == "settlement_id"
    write(extra, "X: no_such_column\n")
    with pytest.raises(ConfigError, match="no_such_column"):
        load_aliases(extra)


def test_xlsx_rows_are_read_and_a_bad_cell_is_rejected_with_sheet_and_row(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "盘点"
    sheet.append(["定点机构编码", "药品编码", "盘点数量", "盘点时间"])
    sheet.append(["PH1", "D1", 4, "2026-11-20T07:00:00+08:00"])
    sheet.append(["PH1", "D2", "many", "2026-11-20T07:00:00+08:00"])
    sheet.append([None, None, None, None])  # a blank row is skipped
    sheet.append(["PH1", "D3", 2.5, "2026-11-20T07:00:00+08:00", "stray"])
    book.save(tmp_path / "stock.xlsx")
    rows, rejected = read_stock(tmp_path / "stock.xlsx")
    assert [(c.item_code, c.quantity) for c in rows] == [("D1", Decimal(4))]
    assert [(r.source, r.line) for r in rejected] == [("stock.xlsx sheet 盘点", 3), ("stock.xlsx sheet 盘点", 5)]
    assert "quantity" in rejected[0].reason and "column E" in rejected[1].reason


def test_unreadable_workbook_is_an_input_error(tmp_path):
    (tmp_path / "stock.xlsx").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="stock.xlsx: cannot read as an .xlsx workbook"):
        read_stock(tmp_path / "stock.xlsx")


def test_an_xlsx_date_cell_and_a_local_time_are_read_in_the_input_zone(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["定点机构编码", "药品编码", "盘点数量", "盘点时间"])
    book.active.append(["PH1", "D1", 4, datetime(2026, 11, 20, 7, 0)])  # a date cell: no zone
    book.active.append(["PH1", "D2", 1, "2026/11/20 07:00:00"])
    book.save(tmp_path / "stock.xlsx")
    rows, rejected = read_stock(tmp_path / "stock.xlsx")
    assert not rejected and [c.counted_at for c in rows] == [datetime(2026, 11, 20, 7, tzinfo=TZ)] * 2
    rows, rejected = read_stock(tmp_path / "stock.xlsx", IngestOptions(input_timezone=None))
    assert not rows and all("counted_at" in r.reason and "no UTC offset" in r.reason for r in rejected)


def test_a_row_with_several_faults_is_rejected_for_its_first(tmp_path):
    """Fields are checked in the order the readers always checked them: a bad quantity before an
    empty time, a bad time before an over-long supplier, an empty item code before a bad quantity."""
    path = write(tmp_path / "purchases.csv", (
        "pharmacy_id,item_code,quantity,received_at,supplier,invoice_no\n"
        f"PH1,D1,x,,S,I1\n"
        f"PH1,D1,5,later,{'s' * 300},I2\n"
        f"PH1,,x,2026-11-20T08:00:00+08:00,S,I3\n"))
    _, rejected = read_purchases(path)
    assert [r.line for r in rejected] == [2, 3, 4]
    assert "quantity" in rejected[0].reason and "received_at" not in rejected[0].reason
    assert "received_at" in rejected[1].reason and "supplier" not in rejected[1].reason
    assert "item_code" in rejected[2].reason and "quantity" not in rejected[2].reason
    stock = write(tmp_path / "stock.csv", "pharmacy_id,item_code,quantity,counted_at\nPH1,D1,-1,\n")
    _, rejected = read_stock(stock)
    assert "quantity" in rejected[0].reason and "counted_at" not in rejected[0].reason
