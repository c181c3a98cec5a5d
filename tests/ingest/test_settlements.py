from __future__ import annotations

from pathlib import Path

import pytest

from ingest.settlements import read_settlements
from rxaudit.errors import InputError

KEY = b"k" * 32
HEADER = "settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount,operator\n"
GOOD = "S1,PH1,C1,2026-11-20T10:00:13.000+08:00,110101199001011234,12.50,OP1\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "settlements.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_good_row_is_parsed_hashed_and_keeps_extra_columns(tmp_path):
    log = read_settlements(write(tmp_path, GOOD), KEY)
    (s,) = log.settlements
    assert s.settlement_id == "S1" and s.line == 2
    assert s.settled_at.utcoffset().total_seconds() == 8 * 3600
    assert "110101199001011234" not in s.card_hash and len(s.card_hash) == 64
    assert s.extra == {"operator": "OP1"}
    assert log.rejected == () and log.rows_read == 1


@pytest.mark.parametrize("row, reason", [
    ("S2,PH1,C1,yesterday,1234,1.00,OP\n", "not ISO 8601"),
    ("S2,PH1,C1,2026-11-20T10:00:13,1234,1.00,OP\n", "no UTC offset"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,,1.00,OP\n", "empty field card_id"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,abc,OP\n", "amount 'abc' is not a number"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,-5,OP\n", "non-negative"),
    ("S2,,C1,2026-11-20T10:00:13+08:00,1234,1.00,OP\n", "empty field pharmacy_id"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,1.00,OP,extra\n", "more fields"),
    ("S1,PH1,C1,2026-11-20T10:00:13+08:00,1234,1.00,OP\n", "repeats line 2"),
])
def test_bad_row_is_rejected_with_line_and_the_rest_kept(tmp_path, row, reason):
    log = read_settlements(write(tmp_path, GOOD + row + GOOD.replace("S1", "S3")), KEY)
    assert [s.settlement_id for s in log.settlements] == ["S1", "S3"]
    (bad,) = log.rejected
    assert bad.line == 3 and reason in bad.reason
    assert log.rows_read == 3


def test_missing_column_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="card_id"):
        read_settlements(write(tmp_path, "S1,PH1,C1,2026-11-20T10:00:13+08:00,1.0\n",
                               header="settlement_id,pharmacy_id,counter_id,settled_at,amount\n"), KEY)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot open"):
        read_settlements(tmp_path / "nope.csv", KEY)


def test_items_file_beside_is_attached_and_its_bad_rows_reported(tmp_path):
    path = write(tmp_path, GOOD)
    (tmp_path / "settlement_items.csv").write_text(
        "settlement_id,item_code,item_name,quantity,unit_price\n"
        "S1,86900001,阿莫西林,2,6.25\nS1,86900002,bad,two,1\n", encoding="utf-8")
    log = read_settlements(path, KEY)
    (s,) = log.settlements
    assert [i.item_code for i in s.items] == ["86900001"]
    assert log.rejected[0].source == "settlement_items.csv" and log.rejected[0].line == 3
