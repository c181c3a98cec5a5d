"""A sample bundle in the form real Chinese systems export it: Chinese headers, GB18030 CSV or .xlsx.

``export_bundle(folder, form)`` rewrites the bundle's tables in place (``zh-csv``: GB18030 CSV with
Chinese headers; ``zh-xlsx``: one .xlsx workbook per table, Chinese headers, text cells), so the
same audit can be run on both forms. Times are written as those systems write them: Beijing local
time without an offset (``2026-11-16 09:41:39.694``; in a workbook a date cell, or slashed text
where it has milliseconds), read back through the ``input_timezone`` setting. The item catalogue
stays as it is (it is rxaudit's own file).
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.header_map import BUILTIN

FORMS = ("en", "zh-csv", "zh-xlsx")
TABLES = ("settlements.csv", "settlement_items.csv", "purchases.csv", "stock.csv", "pharmacies.csv")
# the name each column gets in the export: the first Chinese name of the built-in map, except where
# a table has its own word for it
CHINESE = {column: names[0] for column, names in BUILTIN.items()}
PER_TABLE = {"purchases.csv": {"quantity": "进货数量"}, "stock.csv": {"quantity": "盘点数量"}}


TIME_COLUMNS = ("settled_at", "received_at", "counted_at")
LOCAL = ZoneInfo("Asia/Shanghai")  # ingest.times.DEFAULT_INPUT_TIMEZONE


def _local(text: str, form: str) -> str | datetime:
    """An aware ISO time as the export writes it: local, no offset (a planted bad time as it is)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text
    if value.tzinfo is None:
        return text
    value = value.astimezone(LOCAL).replace(tzinfo=None)
    if form == "zh-xlsx":
        if not value.microsecond:
            return value  # a date cell
        return value.isoformat(sep=" ", timespec="milliseconds").replace("-", "/")
    return value.isoformat(sep=" ", timespec="milliseconds" if value.microsecond else "seconds")


def _localised(header: list[str], rows: list[list[str]], form: str) -> list[list[str | datetime]]:
    at = [i for i, column in enumerate(header) if column in TIME_COLUMNS]
    return [[_local(v, form) if i in at and v else v for i, v in enumerate(row)] for row in rows]


def _chinese(table: str, header: list[str]) -> list[str]:
    names = {**CHINESE, **PER_TABLE.get(table, {})}
    return [names.get(column, column) for column in header]


def export_bundle(folder: Path, form: str) -> list[Path]:
    """Rewrite the tables of ``folder`` in ``form``; returns the files written."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}")
    if form == "en":
        return []
    written = []
    for table in TABLES:
        path = folder / table
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        rows = [_chinese(table, rows[0]), *_localised(rows[0], rows[1:], form)]
        if form == "zh-csv":
            with path.open("w", newline="", encoding="gb18030") as fh:
                csv.writer(fh).writerows(rows)
            written.append(path)
            continue
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = path.stem
        for row in rows:
            sheet.append(row)  # text cells (but times): card numbers and 20-digit codes keep every digit
        target = path.with_suffix(".xlsx")
        book.save(target)
        path.unlink()
        written.append(target)
    return written
