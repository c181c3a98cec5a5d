"""Workbooks get the CSV reader's limits: a cell over the field limit costs its row, a part over its
bound is refused before it is parsed, and the declared dimension costs nothing."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from ingest.csv_reader import MAX_FIELD
from ingest.records import read_stock
from ingest.settlements import read_items
from ingest.tables import open_table
from ingest.xlsx import XlsxLimits, XlsxSource
from rxaudit.errors import InputError

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SHEET = "xl/worksheets/sheet1.xml"
CODE = "8" * 20
STOCK_HEADER = ["pharmacy_id", "item_code", "quantity", "counted_at"]
AT = "2026-11-20T07:00:00+08:00"


def _cell(column: str, row: int, value: object, shared: dict[str, int]) -> str:
    if isinstance(value, (int, float)):
        return f'<c r="{column}{row}"><v>{value}</v></c>'
    return f'<c r="{column}{row}" t="s"><v>{shared.setdefault(str(value), len(shared))}</v></c>'


def _rows_xml(rows: Iterable[list[object]], shared: dict[str, int]) -> Iterator[bytes]:
    for number, row in enumerate(rows, start=1):
        cells = "".join(_cell(chr(65 + i), number, v, shared) for i, v in enumerate(row) if v is not None)
        yield f'<row r="{number}">{cells}</row>'.encode()


def build(path: Path, rows: Iterable[list[object]], *, dimension: str | None = None,
          more_rows: Iterable[bytes] = (), strings: Iterable[bytes] | None = None) -> Path:
    """A workbook whose first sheet holds ``rows`` (text as shared strings), then the raw
    ``more_rows``; ``strings``: the shared-string table's raw ``<si>`` elements instead of those
    of ``rows``' texts. Parts are streamed into the zip, so a huge one costs no memory."""
    base = path.with_suffix(".base.xlsx")
    openpyxl.Workbook().save(base)
    shared: dict[str, int] = {}
    with zipfile.ZipFile(base) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename == SHEET:
                continue
            data = old.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" '
                                                 f'ContentType="{STRINGS_TYPE}"/></Types>'.encode())
            new.writestr(info.filename, data)
        with new.open(SHEET, "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}">'.encode())
            if dimension:
                sheet.write(f'<dimension ref="{dimension}"/>'.encode())
            sheet.write(b"<sheetData>")
            for chunk in _rows_xml(rows, shared):
                sheet.write(chunk)
            for chunk in more_rows:
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
        with new.open("xl/sharedStrings.xml", "w", force_zip64=True) as table:
            table.write(f'<sst xmlns="{MAIN}">'.encode())
            for chunk in strings if strings is not None else (
                    f"<si><t>{text}</t></si>".encode() for text in shared):
                table.write(chunk)
            table.write(b"</sst>")
    base.unlink()
    return path


def read(path: Path, limits: XlsxLimits = XlsxLimits()):
    with XlsxSource(path, limits=limits) as rows:
        return rows.header, list(rows), rows.rows_read


def test_shared_strings_rich_text_and_numbers_read_as_openpyxl_reads_them(tmp_path):
    rich = (b'<si><t>PH</t></si><si><r><t>D</t></r><r><rPr><b/></rPr><t>1</t></r>'
            b'<rPh sb="0" eb="1"><t>yomi</t></rPh></si>')
    path = build(tmp_path / "s.xlsx", [], strings=[b"<si><t>name</t></si><si><t>code</t></si>", rich],
                 more_rows=[b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>',
                            b'<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>',
                            b'<row r="3"><c r="A3" t="inlineStr"><is><t>x</t></is></c><c r="B3"><v>2.5</v></c>'
                            b'</row><row r="4"><c r="A4" t="b"><v>1</v></c><c r="B4"><v>7</v></c></row>'])
    header, rows, read_count = read(path)
    assert header == ("name", "code") and read_count == 3
    assert [r.values for r in rows] == [{"name": "PH", "code": "D1"}, {"name": "x", "code": "2.5"},
                                        {"name": "True", "code": "7"}]


@pytest.mark.parametrize("where", ["shared", "inline"])
def test_a_cell_of_ten_thousand_trace_codes_costs_its_row_like_in_csv(tmp_path, where):
    codes = ";".join([CODE] * 10_000)  # 210 KB: over the CSV field limit
    assert len(codes) > MAX_FIELD
    header = ["settlement_id", "item_code", "item_name", "quantity", "unit_price", "trace_codes"]
    good, bad = ["S1", "D1", "drug", 1, 10, CODE], ["S2", "D1", "drug", 1, 10]
    extra = (f'<row r="3"><c r="A3" t="inlineStr"><is><t>S2</t></is></c><c r="F3" t="inlineStr"><is>'
             f'<t>{codes}</t></is></c></row>'.encode() if where == "inline" else b"")
    rows = [header, good] + ([bad + [codes]] if where == "shared" else [])
    path = build(tmp_path / "settlement_items.xlsx", rows, more_rows=[extra])
    items, rejected = read_items(path)
    assert list(items) == ["S1"]
    assert [(r.line, r.reason) for r in rejected] == [(3, "trace_codes is longer than 128 KB")]


def test_a_300_mb_shared_string_is_refused_before_it_is_read(tmp_path):
    """The reported workbook: ~310 KB on disk, one 300 MB shared string (1.58 GB peak before)."""
    def huge() -> Iterator[bytes]:
        yield b"<si><t>"
        for _ in range(300):
            yield b"a" * (1024 * 1024)
        yield b"</t></si>"

    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, ["PH1", "D1", 1, AT]], strings=huge())
    assert path.stat().st_size < 1024 * 1024
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"stock.xlsx: the workbook's shared strings .* 300 MB uncompressed, "
                                         r"more than the 128 MB"):
        read_stock(path)
    assert time.perf_counter() - started < 5  # refused from the zip's directory, not parsed


@pytest.mark.parametrize("part, limits, message", [
    ("xl/sharedStrings.xml", XlsxLimits(shared_strings=4096), "shared strings"),
    (SHEET, XlsxLimits(sheet=4096), "sheet"),
    ("xl/theme/theme1.xml", XlsxLimits(part=4096), "part"),
])
def test_each_part_is_bounded_by_its_uncompressed_size(tmp_path, part, limits, message):
    rows = [STOCK_HEADER] + [[f"PH{n}", "D1", n, AT] for n in range(400)]
    path = build(tmp_path / "stock.xlsx", rows)
    with zipfile.ZipFile(path) as book:
        assert book.getinfo(part).file_size > 4096
    with pytest.raises(InputError, match=f"the workbook's {message} {part} holds"):
        read(path, limits)


def test_a_shared_string_over_the_field_limit_costs_its_row(tmp_path):
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, ["PH1", "D1", 1, AT], ["PH1", "x" * 200, 1, AT],
                                           ["PH1", "D2", 2, AT]])
    _, rows, read_count = read(path, XlsxLimits(max_field=100))
    assert [(r.line, getattr(r, "reason", None)) for r in rows] == [
        (2, None), (3, "item_code is longer than 100 characters"), (4, None)]
    assert read_count == 3


def test_the_declared_dimension_costs_nothing(tmp_path):
    """``A1:XFD1048576`` and a row 50,000 rows down: openpyxl padded every missing row to 16,384
    cells (~800 rows/s, a minute here); only the rows written cost anything now."""
    far = f'<row r="50000"><c r="A50000" t="inlineStr"><is><t>PH1</t></is></c><c r="B50000" t="inlineStr">' \
          f'<is><t>D2</t></is></c><c r="C50000"><v>2</v></c><c r="D50000" t="inlineStr"><is><t>{AT}</t></is>' \
          f'</c></row>'
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, ["PH1", "D1", 1, AT]], dimension="A1:XFD1048576",
                 more_rows=[far.encode()])
    started = time.perf_counter()
    rows, rejected = read_stock(path)
    assert time.perf_counter() - started < 5
    assert [(c.item_code, c.quantity) for c in rows] == [("D1", Decimal(1)), ("D2", Decimal(2))] and not rejected


def test_a_million_empty_rows_are_read_at_the_speed_of_their_bytes(tmp_path):
    empty = (f'<row r="{n}"/>'.encode() for n in range(4, 1_000_004))
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, ["PH1", "D1", 1, AT], ["PH1", "D2", 2, AT]],
                 dimension="A1:XFD1048576", more_rows=empty)
    started = time.perf_counter()
    rows, rejected = read_stock(path)
    assert len(rows) == 2 and not rejected
    assert time.perf_counter() - started < 60  # (~22 CPU-minutes before)


def test_a_cell_far_beyond_the_header_is_rejected_without_padding(tmp_path):
    far = b'<row r="3"><c r="A3" t="inlineStr"><is><t>PH1</t></is></c><c r="XFD3"><v>1</v></c></row>'
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, ["PH1", "D1", 1, AT]], more_rows=[far])
    _, rows, _ = read(path)
    assert rows[1].line == 3 and "column XFD beyond the header" in rows[1].reason


@pytest.mark.parametrize("cell, problem", [
    (b'<c r="C2" t="s"><v>99</v></c>', "quantity is not a value its cell type allows"),
    (b'<c r="C2"><v>1e999</v></c>', "quantity 'xxxxxxxx' must be a non-negative number"),
    (b'<c r="C2"><v>not-a-number</v></c>', "quantity is not a value its cell type allows"),
    (b'<c r="C2" t="inlineStr"><is><t>bell\x07</t></is></c>', None),  # (expat refuses: a file error)
])
def test_a_bad_cell_costs_its_row(tmp_path, cell, problem):
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>PH1</t></is></c><c r="B2" t="inlineStr"><is><t>D1</t>' \
          b'</is></c>' + cell + f'<c r="D2" t="inlineStr"><is><t>{AT}</t></is></c></row>'.encode()
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER], more_rows=[row])
    if problem is None:
        with pytest.raises(InputError, match="stock.xlsx: cannot read as an .xlsx workbook"):
            read_stock(path)
        return
    rows, rejected = read_stock(path)
    assert not rows and [(r.line, r.reason) for r in rejected] == [(2, problem)]


def test_open_table_reads_a_workbook_with_the_csv_checks(tmp_path):
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, ["PH1", "D\x7f", 1, AT]])
    with open_table(path) as rows:
        assert [r.reason for r in rows] == ["item_code holds a control character"]


@pytest.mark.parametrize("rows", [b'<row r="3"/><row r="3"/>', b'<row r="1048577"/>'],
                         ids=["repeated", "beyond-the-grid"])
def test_rows_must_come_in_order_within_the_grid(tmp_path, rows):
    """So a sheet holds at most 1,048,576 rows, however its bytes are spent."""
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, ["PH1", "D1", 1, AT]], more_rows=[rows])
    with pytest.raises(InputError, match="stock.xlsx: sheet row .* follows row"):
        read_stock(path)
