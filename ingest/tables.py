"""One way in for every tabular input: CSV (any encoding ``ingest.csv_reader`` accepts) or ``.xlsx``.

``open_table(path, ...)`` gives the same rows either way: ``header``, then :class:`CsvRow` /
:class:`CsvReject` one at a time, with header aliases (``ingest.header_map``) applied. For a
workbook the first sheet is read; a row's ``line`` is its sheet row number, and problems name the
file, the sheet, the row and the column.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, time
from decimal import Decimal
from pathlib import Path

from ingest.csv_reader import AUTO, CsvReject, CsvRow, check_header, open_csv
from rxaudit.errors import InputError

XLSX_SUFFIXES = (".xlsx", ".xlsm")


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


class XlsxSource:
    """The first sheet of a workbook, read row by row (openpyxl read-only mode)."""

    def __init__(self, path: Path, *, required: Iterable[str] = (),
                 aliases: Mapping[str, str] | None = None) -> None:
        import openpyxl  # only when a workbook is read
        from openpyxl.utils import get_column_letter

        self.path = Path(path)
        self._letter = get_column_letter
        try:
            self._book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException...
            raise InputError(f"{self.path}: cannot read as an .xlsx workbook: {exc}") from exc
        self.sheet = self._book.worksheets[0]
        self.encoding = "xlsx"
        self.rows_read = 0
        self._rows = self.sheet.iter_rows(values_only=True)
        aliases = aliases or {}
        try:
            first = next(self._rows, None)
            if first is None:
                raise InputError(f"{self._where(1)}: is empty (no header row)")
            names = [_cell_text(v) for v in first]
            while names and not names[-1]:
                names.pop()
            self.header = check_header([aliases.get(n, n) for n in names], required, lambda index: (
                f"{self._where(1)}: header" if index is None else f"{self._where(1, index)}: header cell"))
        except BaseException:
            self.close()
            raise

    def _where(self, row: int, column: int | None = None) -> str:
        cell = "" if column is None else f", column {self._letter(column)}"
        return f"{self.path}: sheet {self.sheet.title!r}, row {row}{cell}"

    def close(self) -> None:
        self._book.close()

    def __enter__(self) -> XlsxSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[CsvRow | CsvReject]:
        width = len(self.header)
        for number, cells in enumerate(self._rows, start=2):
            values = [_cell_text(v) for v in cells]
            if not any(values):
                continue
            self.rows_read += 1
            extra = [i for i, v in enumerate(values[width:], start=width + 1) if v]
            if extra:
                yield CsvReject(number, number, f"sheet {self.sheet.title!r} row {number}: cell in "
                                                f"column {self._letter(extra[0])} beyond the header")
                continue
            values += [""] * (width - len(values))
            yield CsvRow(number, number, dict(zip(self.header, values[:width])))


def open_table(path: Path, *, required: Iterable[str] = (), encoding: str = AUTO,
               aliases: Mapping[str, str] | None = None):
    """A CSV source or an .xlsx source, by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() in XLSX_SUFFIXES:
        return XlsxSource(path, required=required, aliases=aliases)
    return open_csv(path, required=required, encoding=encoding, aliases=aliases)


def beside(log: Path, name: str) -> Path | None:
    """``name`` (a .csv) beside the log, or its .xlsx twin; None when neither exists."""
    for candidate in (log.with_name(name), log.with_name(Path(name).stem + ".xlsx")):
        if candidate.exists():
            return candidate
    return None
