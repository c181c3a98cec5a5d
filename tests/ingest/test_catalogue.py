from __future__ import annotations

import pytest

from ingest.catalogue import read_catalogue
from ingest.settlements import read_settlements
from rxaudit.domain import ItemCategory
from rxaudit.errors import InputError
from tests.ingest.test_settlements import GOOD, KEY, write

HEADER = "item_code,item_name,category\n"


def catalogue(tmp_path, body, name="item_catalogue.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("row, reason", [
    ("X1,thing,maybe\n", "category 'xxxxx' is not one of"),
    (",thing,covered\n", "empty field item_code"),
    ("A1,again,other\n", "listed twice"),
    ("X2,thing,covered,extra\n", "more fields"),
])
def test_bad_rows_are_rejected_with_their_line_and_the_rest_is_used(tmp_path, row, reason):
    known, rejected = read_catalogue(catalogue(tmp_path, "A1,阿莫西林,covered\n" + row + "B1,薯片,other\n"))
    assert known == {"A1": ItemCategory.COVERED, "B1": ItemCategory.OTHER}
    assert [(r.line, reason in r.reason) for r in rejected] == [(3, True)]


def test_catalogue_needs_its_columns(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("code,kind\nA1,covered\n", encoding="utf-8")
    with pytest.raises(InputError, match="item_code"):
        read_catalogue(path)


def test_billed_items_get_their_category_from_the_catalogue_beside_the_log(tmp_path):
    log_path = write(tmp_path, GOOD)
    (tmp_path / "settlement_items.csv").write_text(
        "settlement_id,item_code,item_name,quantity,unit_price\nS1,A1,x,1,5\nS1,B1,y,2,1\nS1,Z9,z,1,1\n",
        encoding="utf-8")
    catalogue(tmp_path, "A1,x,covered\nB1,y,other\n")
    (s,) = read_settlements(log_path, KEY).settlements
    assert [str(i.category) for i in s.items] == ["covered", "other", "unknown"]


def test_an_explicit_catalogue_wins_and_a_missing_one_is_an_error(tmp_path):
    log_path = write(tmp_path, GOOD)
    (tmp_path / "settlement_items.csv").write_text(
        "settlement_id,item_code,item_name,quantity,unit_price\nS1,A1,x,1,5\n", encoding="utf-8")
    other = catalogue(tmp_path, "A1,x,other\n", name="city.csv")
    (s,) = read_settlements(log_path, KEY, other).settlements
    assert s.items[0].category == ItemCategory.OTHER
    with pytest.raises(InputError, match="cannot open"):
        read_settlements(log_path, KEY, tmp_path / "missing.csv")


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig"])
def test_catalogue_reads_chinese_encodings(tmp_path, encoding):
    path = tmp_path / "item_catalogue.csv"
    path.write_bytes((HEADER + "A1,阿莫西林,covered\nB1,薯片,other\n").encode(encoding))
    assert read_catalogue(path) == ({"A1": ItemCategory.COVERED, "B1": ItemCategory.OTHER}, [])


def test_catalogue_reasons_do_not_quote_the_code(tmp_path):
    _, rejected = read_catalogue(catalogue(tmp_path, "6222021234567890123,x,covered\n6222021234567890123,x,other\n"))
    assert rejected[0].line == 3 and "listed twice" in rejected[0].reason and "6222" not in rejected[0].reason
