"""A sample bundle in the form real Chinese systems export it: Chinese headers, GB18030 CSV or .xlsx.

``export_bundle(folder, form)`` rewrites the bundle's tables in place (``zh-csv``: GB18030 CSV with
Chinese headers; ``zh-xlsx``: one .xlsx workbook per table, Chinese headers, every cell text), so the
same audit can be run on both forms. The item catalogue stays as it is (it is rxaudit's own file).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ingest.header_map import BUILTIN

FORMS = ("en", "zh-csv", "zh-xlsx")
TABLES = ("settlements.csv", "settlement_items.csv", "purchases.csv", "stock.csv", "pharmacies.csv")
# the name each column gets in the export: the first Chinese name of the built-in map, except where
# a table has its own word for it
CHINESE = {column: names[0] for column, names in BUILTIN.items()}
PER_TABLE = {"purchases.csv": {"quantity": "进货数量"}, "stock.csv": {"quantity": "盘点数量"}}


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
        rows[0] = _chinese(table, rows[0])
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
            sheet.append(row)  # text cells: card numbers and 20-digit codes keep every digit
        target = path.with_suffix(".xlsx")
        book.save(target)
        path.unlink()
        written.append(target)
    return written
