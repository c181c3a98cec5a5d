"""A bundle exported the way Chinese systems do (Chinese headers; GB18030 CSV or .xlsx) audits
exactly as the English CSV does."""

from __future__ import annotations

import shutil

import pytest

from ingest.records import read_records
from ingest.settlements import read_settlements
from sample_footage import generator
from sample_footage.exports import export_bundle
from tests.conftest import TEST_KEY
from tests.sample_footage.test_records_truth import audit_records


@pytest.fixture
def english(monkeypatch, tmp_path):
    monkeypatch.setattr(generator, "render_cluster", lambda *a, **k: None)
    generator.write_bundle(tmp_path / "en", 11)
    return tmp_path / "en"


def read_all(folder):
    log = read_settlements(folder / "settlements.csv" if (folder / "settlements.csv").exists()
                           else folder / "settlements.xlsx", TEST_KEY.encode())
    records, bad = read_records(folder / "settlements.csv")
    return log, records, bad


@pytest.mark.parametrize("form, suffix", [("zh-csv", ".csv"), ("zh-xlsx", ".xlsx")])
def test_chinese_exports_audit_like_the_english_csv(form, suffix, english, tmp_path, make_settings):
    folder = tmp_path / form
    shutil.copytree(english, folder)
    written = export_bundle(folder, form)
    assert {p.suffix for p in written} == {suffix} and len(written) == 5
    header = (folder / "settlements.csv").read_bytes().split(b"\n")[0] if form == "zh-csv" else None
    if header is not None:
        assert "结算流水号".encode("gb18030") in header  # GB18030, not UTF-8
        with pytest.raises(UnicodeDecodeError):
            header.decode("utf-8")
        assert b"+08:00" not in (folder / "settlements.csv").read_bytes()  # local times, as exported
    else:
        import openpyxl
        from datetime import datetime

        sheet = openpyxl.load_workbook(folder / "purchases.xlsx").active
        assert isinstance(sheet.cell(2, 4).value, datetime)  # received_at: a date cell, no zone

    want_log, want_records, _ = read_all(english)
    got_log, got_records, bad = read_all(folder)
    assert got_log.settlements == want_log.settlements  # ids, times, card hashes, items, trace codes
    assert [(r.line, r.reason) for r in got_log.rejected] == [(r.line, r.reason) for r in want_log.rejected]
    assert got_records == want_records and bad == []

    settings = make_settings(db_url=f"sqlite:///{tmp_path}/{form}.db")
    got = audit_records(folder, settings.db_url, settings)
    want = audit_records(english, f"sqlite:///{tmp_path}/en.db", settings)
    assert got == want and all(want.values())


def test_an_xlsx_problem_names_file_sheet_row_and_column(english, tmp_path):
    import openpyxl

    folder = tmp_path / "x"
    shutil.copytree(english, folder)
    export_bundle(folder, "zh-xlsx")
    book = openpyxl.load_workbook(folder / "stock.xlsx")
    sheet = book.active
    sheet.cell(row=1, column=4, value="药品编码")  # 盘点时间 -> a second 药品编码
    book.save(folder / "stock.xlsx")
    from ingest.records import read_stock
    from rxaudit.errors import InputError

    with pytest.raises(InputError, match=r"stock.xlsx: sheet 'stock', row 1, column D: .*item_code.* twice"):
        read_stock(folder / "stock.xlsx")
