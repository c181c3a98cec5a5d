"""The first sheet of an ``.xlsx`` workbook as a table, with the CSV reader's checks.

openpyxl reads the workbook's small parts (content types, workbook, styles: which cell formats are
dates); the shared strings and the sheet are streamed, bounded, by ``ingest.xlsx_xml``. A row is a
:class:`CsvRow` or a :class:`CsvReject` as from a CSV file: a cell over the field limit, a control
character or a cell beyond the header costs its row; a part over its bound is an InputError.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, time
from decimal import Decimal
from pathlib import Path

from ingest.csv_reader import CsvReject, CsvRow, check_header, field_problem
from ingest.input_files import require_regular_file
from ingest.xlsx_xml import (MAX_COLUMN, BadCell, CellFormats, XlsxLimits, bytes_text, check_part_sizes,
                             SheetRows, read_shared_strings)
from rxaudit.errors import InputError

__all__ = ["XlsxLimits", "XlsxSource"]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, time)):  # a datetime is a date
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return str(value).strip()


def _blank(cells: dict[int, object]) -> bool:
    return all(not isinstance(v, BadCell) and not _cell_text(v) for v in cells.values())


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(min(column, MAX_COLUMN))


def _open_parts(path: Path, limits: XlsxLimits):
    """openpyxl's reader of the workbook's small parts, run with its shared strings and sheets left
    to :class:`XlsxSource`, which notes where they are (``strings_part``, ``sheets``)."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS

    class Parts(ExcelReader):
        strings_part: str | None = None
        sheets: list[tuple[str, str]] = []

        def read_manifest(self) -> None:
            info = self.archive.getinfo(ARC_CONTENT_TYPES)  # (KeyError: not a workbook)
            if info.file_size > limits.part:
                raise InputError(f"{path}: its {ARC_CONTENT_TYPES} is larger than {bytes_text(limits.part)}")
            super().read_manifest()
            types = {o.PartName.lstrip("/"): o.ContentType for o in self.package.Override}
            check_part_sizes(self.archive, path, types, limits)

        def read_strings(self) -> None:
            part = self.package.find(SHARED_STRINGS)
            self.strings_part = None if part is None else part.PartName.lstrip("/")

        def read_worksheets(self) -> None:
            self.sheets = [(sheet.name, rel.target) for sheet, rel in self.parser.find_sheets()
                           if rel.target in self.valid_files and "chartsheet" not in rel.Type]

    parts = Parts(path, read_only=True, data_only=True)
    parts.read()
    return parts


class XlsxSource:
    """The first sheet of a workbook, row by row, with the CSV reader's checks (see the module)."""

    def __init__(self, path: Path, *, required: Iterable[str] = (), aliases: Mapping[str, str] | None = None,
                 limits: XlsxLimits = XlsxLimits()) -> None:
        self.path, self.limits, self.encoding, self.rows_read = Path(path), limits, "xlsx", 0
        require_regular_file(self.path)
        try:
            self._parts = _open_parts(self.path, limits)
        except InputError:
            raise
        except Exception as exc:  # zipfile, KeyError, openpyxl's InvalidFileException, ValueError...
            raise InputError(f"{self.path}: cannot read as an .xlsx workbook: {exc}") from exc
        try:
            self._rows = self._read_rows()
            self.header, self._header_row = self._read_header(tuple(required), aliases or {})
            self._sheet_rows.width = len(self.header)  # cells past it: only the first kept, to reject its row
        except BaseException:
            self.close()
            raise

    @property
    def source(self) -> str:
        """How rejected rows name the file: with its sheet."""
        return f"{self.path.name} sheet {self.title}"

    def _read_rows(self) -> Iterator[tuple[int, dict[int, object]]]:
        parts = self._parts
        if not parts.sheets:
            raise InputError(f"{self.path}: the workbook has no worksheet")
        self.title, sheet_part = parts.sheets[0]
        shared: list[str | BadCell] = []
        if parts.strings_part is not None:
            with parts.archive.open(parts.strings_part) as source:
                shared = read_shared_strings(source, self.path, self.limits.max_field)
        book = parts.wb
        formats = CellFormats(frozenset(book._date_formats), frozenset(book._timedelta_formats), book.epoch)
        self._sheet = parts.archive.open(sheet_part)
        self._sheet_rows = SheetRows(self._sheet, self.path, shared, formats, self.limits.max_field)
        return iter(self._sheet_rows)

    def _read_header(self, required: tuple[str, ...], aliases: Mapping[str, str]) -> tuple[tuple[str, ...], int]:
        for number, cells in self._rows:
            if _blank(cells):
                continue
            bad = sorted(c for c, v in cells.items() if isinstance(v, BadCell))
            if bad:
                raise InputError(f"{self._where(number, bad[0])}: header cell {cells[bad[0]].problem}")
            names = [_cell_text(cells.get(c)) for c in range(1, max(cells) + 1)]
            while names and not names[-1]:
                names.pop()
            header = check_header([aliases.get(n, n) for n in names], required, lambda index: (
                f"{self._where(number)}: header" if index is None else f"{self._where(number, index)}: header cell"))
            return header, number
        raise InputError(f"{self._where(1)}: is empty (no header row)")

    def _where(self, row: int, column: int | None = None) -> str:
        cell = "" if column is None else f", column {_letter(column)}"
        return f"{self.path}: sheet {self.title!r}, row {row}{cell}"

    def close(self) -> None:
        sheet = getattr(self, "_sheet", None)
        if sheet is not None:
            sheet.close()
        self._parts.archive.close()

    def __enter__(self) -> XlsxSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[CsvRow | CsvReject]:
        width, header = len(self.header), self.header
        for number, cells in self._rows:
            if _blank(cells):
                continue
            self.rows_read += 1
            yield self._record(number, cells, width, header)

    def _record(self, number: int, cells: dict[int, object], width: int,
                header: tuple[str, ...]) -> CsvRow | CsvReject:
        values = ["" if isinstance(v := cells.get(c), BadCell) else _cell_text(v) for c in range(1, width + 1)]
        beyond = sorted(c for c, v in cells.items() if c > width and (isinstance(v, BadCell) or _cell_text(v)))
        if beyond:
            return CsvReject(number, number, f"sheet {self.title!r} row {number}: cell in column "
                                             f"{_letter(beyond[0])} beyond the header", tuple(values))
        for column in sorted(cells):
            if isinstance(cells[column], BadCell):
                return CsvReject(number, number, f"{header[column - 1]} {cells[column].problem}", tuple(values))
        problem = field_problem(header, values, self.limits.max_field)
        if problem:
            return CsvReject(number, number, problem, tuple(values))
        return CsvRow(number, number, dict(zip(header, values)))
