"""A workbook's rows are bounded whatever its bytes say: cells without a reference count past XFD,
a cell repeated in its column, cells far past the header, parts that expand like a zip bomb.
The reported ones: 3 M reference-less cells in one row (89 KB: 42 s, 468 MB) and 10 M cells all
``r="A4"`` (126 s); each is refused or bounded now, with an error naming the file and row."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import datetime

import pytest

from ingest.records import read_stock
from ingest.xlsx import XlsxLimits, XlsxSource
from ingest.xlsx_xml import MAX_COLUMN, CellFormats, SheetRows
from rxaudit.errors import InputError
from tests.ingest.test_xlsx import AT, MAIN, SHEET, STOCK_HEADER, build

GOOD_ROW = ["PH1", "D1", 1, AT]


def row_of(cells: bytes, number: int = 3) -> bytes:
    return f'<row r="{number}">'.encode() + cells + b"</row>"


@pytest.mark.parametrize("cells, message", [
    (b"<c><v>1</v></c>" * (MAX_COLUMN + 1), "sheet row 3: a cell lies past column XFD (16,384)"),
    (b'<c r="XFD3"><v>1</v></c><c><v>1</v></c>', "sheet row 3: a cell lies past column XFD (16,384)"),
    (b'<c r="XFE3"><v>1</v></c>', "sheet row 3: a cell lies past column XFD (16,384)"),
    (b'<c r="33"><v>1</v></c>', "sheet row 3: a cell names no column"),
    (b'<c r="A3"><v>1</v></c>' * 2, "sheet row 3, column A: a second cell in the same column"),
    (b'<c r="B3"><v>1</v></c><c r="A3"><v>1</v></c><c><v>1</v></c>',
     "sheet row 3, column B: a second cell in the same column"),  # (A, then implicitly B again)
], ids=["implicit-past-xfd", "implicit-after-xfd", "reference-past-xfd", "no-column", "repeated", "repeated-implicit"])
def test_a_cell_no_spreadsheet_program_writes_refuses_the_workbook(tmp_path, cells, message):
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, GOOD_ROW], more_rows=[row_of(cells)])
    with pytest.raises(InputError, match="stock.xlsx: ") as info:
        read_stock(path)
    assert message in str(info.value)


@pytest.mark.parametrize("cell", [b"<c><v>1</v></c>", b'<c r="A3"><v>1</v></c>'], ids=["implicit", "repeated"])
def test_a_row_of_a_million_cells_is_refused_at_once(tmp_path, cell):
    """The reported rows, scaled down (1 M cells, not 3 M or 10 M), stored uncompressed so that the
    compression bound does not refuse them first: the row's own bound must."""
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, GOOD_ROW], more_rows=[row_of(cell * 1_000_000)])
    started = time.perf_counter()
    with pytest.raises(InputError, match="sheet row 3"):
        read(path, XlsxLimits(max_ratio=10**9))
    assert time.perf_counter() - started < 5  # stops at cell 16,385 (or 2); read whole before: 15 s, 115-177 MB


def read(path, limits: XlsxLimits = XlsxLimits()):
    with XlsxSource(path, limits=limits) as rows:
        return list(rows)


def test_cells_past_the_header_are_not_held_only_the_first_that_rejects_its_row():
    sheet = (f'<worksheet xmlns="{MAIN}"><sheetData>'.encode()
             + row_of(b'<c t="inlineStr"><is><t>a</t></is></c><c t="inlineStr"><is><t>b</t></is></c>', 1)
             + row_of(b"<c><v>1</v></c>" * 2 + b"<c/>" * 100 + b"<c><v>2</v></c>" * (MAX_COLUMN - 102), 2)
             + row_of(b"<c><v>1</v></c>" * 2 + b'<c t="inlineStr"><is><t> </t></is></c>' * 50, 3)
             + b"</sheetData></worksheet>")
    rows = SheetRows(io.BytesIO(sheet), "s.xlsx", [], CellFormats(frozenset(), frozenset(), datetime(1899, 12, 30)))
    rows.width = 2  # (XlsxSource sets it once it has the header)
    assert list(rows) == [(1, {1: "a", 2: "b"}), (2, {1: 1, 2: 1, 103: 2}),  # 16,282 cells past it: one held
                          (3, {1: 1, 2: 1})]  # blanks past it: none


def test_a_workbook_row_past_the_header_is_still_rejected_with_its_column(tmp_path):
    far = row_of(b'<c r="A3" t="inlineStr"><is><t>PH1</t></is></c><c r="F3"/><c r="G3"><v>1</v></c>'
                 b'<c r="H3"><v>2</v></c>')
    path = build(tmp_path / "stock.xlsx", [STOCK_HEADER, GOOD_ROW], more_rows=[far])
    rows = read(path)
    assert rows[1].line == 3 and rows[1].reason.endswith("cell in column G beyond the header")


@pytest.mark.parametrize("filler, refused", [(b"<c/>", True), (None, False)], ids=["bomb", "ordinary-rows"])
def test_a_part_that_expands_like_a_zip_bomb_is_refused_before_it_is_parsed(tmp_path, filler, refused):
    """With the floor lowered to 64 KB for a small workbook: a sheet of empty cells expands ~300-fold;
    a sheet of ordinary rows ~10-fold and is read."""
    limits = XlsxLimits(ratio_floor=64 * 1024)
    many = [row_of(filler * 5_000, n) for n in range(3, 43)] if filler else []
    rows = [STOCK_HEADER, GOOD_ROW] + ([] if filler else [[f"PH{n}", f"D{n * 7919}", n, AT] for n in range(4000)])
    path = build(tmp_path / "stock.xlsx", rows, more_rows=many)
    with zipfile.ZipFile(path) as book:
        info = book.getinfo(SHEET)
        assert info.file_size > limits.ratio_floor
        ratio = info.file_size / info.compress_size
    assert (ratio > limits.max_ratio) is refused
    if not refused:
        assert len(read(path, limits)) == 4001
        return
    with pytest.raises(InputError, match=rf"stock.xlsx: the workbook's sheet {SHEET} expands \d+-fold"):
        read(path, limits)
