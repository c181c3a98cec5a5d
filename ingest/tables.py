"""One way in for every tabular input: CSV (any encoding ``ingest.csv_reader`` accepts) or ``.xlsx``
(``ingest.xlsx``).

``open_table(path, ...)`` gives the same rows either way: ``header``, then :class:`CsvRow` /
:class:`CsvReject` one at a time, with header aliases (``ingest.header_map``) applied and the same
field limits. For a workbook the first sheet is read; a row's ``line`` is its sheet row number, and
problems name the file, the sheet, the row and the column. ``parse_rows`` turns every row of a
table into a value or a :class:`RejectedRow`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from ingest.csv_reader import AUTO, CsvReject, CsvSource, open_csv
from ingest.header_map import builtin_aliases
from ingest.reasons import reason_of
from ingest.xlsx import XlsxSource
from rxaudit.domain import RejectedRow

T = TypeVar("T")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


def open_table(path: Path, *, required: Iterable[str] = (), encoding: str = AUTO,
               aliases: Mapping[str, str] | None = None) -> CsvSource | XlsxSource:
    """A CSV source or an .xlsx source, by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() in XLSX_SUFFIXES:
        return XlsxSource(path, required=required, aliases=aliases)
    return open_csv(path, required=required, encoding=encoding, aliases=aliases)


def rejected_row(source: str, bad: CsvReject) -> RejectedRow:
    span = f" (lines {bad.line}-{bad.end_line})" if bad.end_line != bad.line else ""
    return RejectedRow(source=source, line=bad.line, reason=bad.reason + span)


OnReject = Callable[[RejectedRow, Mapping[str, str]], None]


def parse_rows(path: Path, required: tuple[str, ...], parse: Callable[..., T], *,
               encoding: str = AUTO, aliases: Mapping[str, str] | None = None, with_line: bool = False,
               on_reject: OnReject | None = None) -> tuple[list[T], list[RejectedRow]]:
    """Each row of the table through ``parse`` (given the row's line too with ``with_line``); a row
    it rejects (RowError, ValueError, ArithmeticError) is reported with its file and line (sheet
    row) and the rest go on. ``on_reject(rejected, fields)`` hears of each rejected row with its
    fields as far as they were read (``{}`` when not at all)."""
    parsed: list[T] = []
    rejected: list[RejectedRow] = []
    aliases = builtin_aliases() if aliases is None else aliases  # Chinese headers too
    with open_table(path, required=required, encoding=encoding, aliases=aliases) as rows:
        for row in rows:
            if isinstance(row, CsvReject):
                rejected.append(rejected_row(rows.source, row))
                fields: Mapping[str, str] = dict(zip(rows.header, row.fields))
            else:
                try:
                    parsed.append(parse(row.values, row.line) if with_line else parse(row.values))
                    continue
                except (ValueError, ArithmeticError) as exc:
                    rejected.append(RejectedRow(source=rows.source, line=row.line, reason=reason_of(exc)))
                    fields = row.values
            if on_reject is not None:
                on_reject(rejected[-1], fields)
    return parsed, rejected


def beside(log: Path, name: str) -> Path | None:
    """``name`` (a .csv) beside the log, or its .xlsx twin; None when neither exists."""
    for candidate in (log.with_name(name), log.with_name(Path(name).stem + ".xlsx")):
        if candidate.exists():
            return candidate
    return None
