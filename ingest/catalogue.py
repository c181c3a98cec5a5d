"""The item catalogue: ``item_code`` -> covered drug or other goods, from a CSV the user supplies.

    item_code,item_name,category
    86900001,阿莫西林胶囊 0.25g*24,covered
    69012345,薯片 75g,other

A bad row is rejected with its line number; the other rows are used. Billed items whose code is not
in the catalogue stay ``unknown`` and never raise a goods flag on their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ingest.csv_reader import AUTO
from ingest.fields import required
from ingest.reasons import RowError
from ingest.tables import parse_rows
from rxaudit.domain import ItemCategory, RejectedRow, Settlement

CATALOGUE_COLUMNS = ("item_code", "category")
CATALOGUE_FILE = "item_catalogue.csv"
CATEGORY_WORDS = {"covered": ItemCategory.COVERED, "drug": ItemCategory.COVERED,
                  "other": ItemCategory.OTHER, "non_covered": ItemCategory.OTHER}


def read_catalogue(path: Path, *, encoding: str = AUTO) -> tuple[dict[str, ItemCategory], list[RejectedRow]]:
    catalogue: dict[str, ItemCategory] = {}

    def parse(row: dict) -> str:
        code, word = required(row, "item_code"), required(row, "category").lower()
        if word not in CATEGORY_WORDS:
            raise RowError("category", f"is not one of {', '.join(CATEGORY_WORDS)}", word)
        if code in catalogue and catalogue[code] != CATEGORY_WORDS[word]:
            raise RowError("item_code", "is listed twice with different categories")
        catalogue[code] = CATEGORY_WORDS[word]
        return code

    _, rejected = parse_rows(path, CATALOGUE_COLUMNS, parse, encoding=encoding)
    return catalogue, rejected


def categorise(settlements: Iterable[Settlement], catalogue: dict[str, ItemCategory]) -> list[Settlement]:
    return [replace(s, items=tuple(replace(i, category=catalogue.get(i.item_code, ItemCategory.UNKNOWN))
                                   for i in s.items)) for s in settlements]
