from __future__ import annotations

from pathlib import Path

import pytest

from ingest.csv_reader import MAX_LINE
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
    ("S2,PH1,C1,2026-13-20 10:00:13,1234,1.00,OP\n", "not ISO 8601"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,,1.00,OP\n", "empty field card_id"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,abc,OP\n", "amount 'xxx' is not a number"),
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


ITEM_HEADER = "settlement_id,item_code,item_name,quantity,unit_price\n"
S2 = GOOD.replace("S1", "S2")


def test_items_file_beside_is_attached(tmp_path):
    path = write(tmp_path, GOOD)
    (tmp_path / "settlement_items.csv").write_text(ITEM_HEADER + "S1,86900001,阿莫西林,2,6.25\n", encoding="utf-8")
    (s,) = read_settlements(path, KEY).settlements
    assert [i.item_code for i in s.items] == ["86900001"]


@pytest.mark.parametrize("bad_line", [
    "S1,86900002,bad,two,1\n",                              # a number that is not one
    "S1,86900002,bad,2,5.OO\n",                             # a letter O typo
    "S1,86900002,bad,2\n",                                  # fewer fields
    "S1,86900002,bad,2,1,more\n",                           # more fields
    "S1,86900002,\"bad,2,1\n",                              # an unbalanced quote
    "S1,86900002,bad\x01,2,1\n",                            # a control character
    "S1,86900002," + "x" * (MAX_LINE + 1) + ",2,1\n",       # a line too long to read
])
def test_a_settlement_with_a_rejected_item_line_is_rejected_and_listed_with_it(tmp_path, bad_line):
    """Audited without the line, its bill would be stored incomplete, and the corrected export
    would conflict with it for ever; so it is not audited, and says which item line is to blame."""
    path = write(tmp_path, GOOD + S2)
    (tmp_path / "settlement_items.csv").write_text(
        ITEM_HEADER + "S1,86900001,drug,2,6.25\nS2,86900001,drug,1,6.25\n" + bad_line, encoding="utf-8")
    log = read_settlements(path, KEY)
    assert [s.settlement_id for s in log.settlements] == ["S2"]
    settlement_row, item_row = log.rejected
    assert (settlement_row.source, settlement_row.line) == ("settlements.csv", 2)
    assert "item line 4 in settlement_items.csv" in settlement_row.reason
    assert (item_row.source, item_row.line) == ("settlement_items.csv", 4)
    assert log.rows_read == 2  # log rows: 1 audited + 1 rejected; the item line is listed besides


CARD = "6222021234567890123"


@pytest.mark.parametrize("row, reason", [
    # a missing column shifts the card id into settled_at: rejected, the card id quoted nowhere
    (f"S2,PH1,C1,{CARD},12.50,OP\n", "fewer fields (6) than the header names (7)"),
    (f"S2,PH1,C1,{CARD},{CARD},12.50,OP\n", "settled_at '9999999999999999999' is not ISO 8601"),
    (f"S2,PH1,C1,2026-11-20T10:00:13+08:00,{CARD},{CARD},OP\n", "amount is too large"),
    (f"S2,PH1,C1,2026-11-20T10:00:13+08:00,{CARD},x{CARD},OP\n", "amount 'x9999999999999999999' is not"),
    (f"S2,PH1,{CARD}0000000000000000000000000000000000000000000000,2026-11-20T10:00:13+08:00,1,1,OP\n",
     "counter_id is longer than 64 characters"),
    (f'S2,PH1,C1,2026-11-20T10:00:13+08:00,{CARD},1.00,"{CARD}\n', "unbalanced quote"),
    (f"S2,PH1,C1,2026-11-20T10:00:13+08:00,{CARD},1.00,OP,{CARD}\n", "more fields (8)"),
    (f"S2,PH1,C1,2026-11-20T10:00:13+08:00,{CARD}\x00,1.00,OP\n", "card_id holds a NUL byte"),
], ids=["shifted", "card-in-settled_at", "card-in-amount", "masked", "long", "quote", "more", "nul"])
def test_a_reason_never_quotes_a_card_id(tmp_path, row, reason):
    log = read_settlements(write(tmp_path, GOOD + row + GOOD.replace("S1", "S3")), KEY)
    assert [s.settlement_id for s in log.settlements] == ["S1", "S3"]
    (bad,) = log.rejected
    assert bad.line == 3 and reason in bad.reason
    assert "0212345" not in bad.reason  # no run of the card's digits
    assert all("0212345" not in v for s in log.settlements for v in s.extra.values())


@pytest.mark.parametrize("row, reason", [
    ("S2,PH1,C1,9999-12-31T23:59:59+08:00,1234,1.00,OP\n", "settled_at is outside 2000-01-01 .. 2100-01-01"),
    ("S2,PH1,C1,9999-12-31T23:59:59-08:00,1234,1.00,OP\n", "settled_at is outside"),
    ("S2,PH1,C1,0001-01-01T00:00:00+08:00,1234,1.00,OP\n", "settled_at is outside"),
    ("S2,PH1,C1,1999-12-31T23:59:59+00:00,1234,1.00,OP\n", "settled_at is outside"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,10000000000,OP\n", "amount is too large (at most 10 digits"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,1e10,OP\n", "amount is too large"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,1.005,OP\n", "amount has more than 2 decimal places"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,NaN,OP\n", "non-negative"),
    ("S" + "2" * 81 + ",PH1,C1,2026-11-20T10:00:13+08:00,1234,1.00,OP\n", "settlement_id is longer than 64"),
    ("S2," + "P" * 65 + ",C1,2026-11-20T10:00:13+08:00,1234,1.00,OP\n", "pharmacy_id is longer than 64"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,1.00,O\x00P\n", "operator holds a NUL byte"),
    ("S2,PH1,C1\x1b,2026-11-20T10:00:13+08:00,1234,1.00,OP\n", "counter_id holds a control character"),
    ("S2,PH1,C1,2026-11-20T10:00:13+08:00,1234,1.00,O" + "x" * 140_000 + "\n", "operator is longer than 128 KB"),
], ids=["year-9999", "year-10000-utc", "year-1", "before-2000", "1e10", "1e10-exp", "decimals", "nan",
        "id-82", "pharmacy-65", "nul", "escape", "128k"])
def test_what_the_database_cannot_hold_is_a_rejected_row(tmp_path, row, reason):
    log = read_settlements(write(tmp_path, GOOD + row + GOOD.replace("S1", "S3")), KEY)
    assert [s.settlement_id for s in log.settlements] == ["S1", "S3"]
    (bad,) = log.rejected
    assert bad.line == 3 and reason in bad.reason, bad.reason
    assert log.rows_read == 3


def test_amounts_at_the_schema_limits_are_kept(tmp_path):
    rows = GOOD + GOOD.replace("S1", "S2").replace("12.50", "9999999999.99") + GOOD.replace("S1", "S3").replace("12.50", "7.500")
    log = read_settlements(write(tmp_path, rows), KEY)
    assert [str(s.amount) for s in log.settlements] == ["12.50", "9999999999.99", "7.500"] and not log.rejected


def test_the_accepted_date_range_is_a_setting(tmp_path):
    from datetime import UTC, datetime

    from ingest.settlements import IngestOptions

    options = IngestOptions(settled_at_min=datetime(2026, 11, 21, tzinfo=UTC))
    log = read_settlements(write(tmp_path, GOOD), KEY, options=options)
    assert not log.settlements and "outside 2026-11-21 .. 2100-01-01" in log.rejected[0].reason


def test_an_unbalanced_quote_loses_one_row_and_no_card_reaches_extra(tmp_path):
    rows = [f"S{i},PH1,C1,2026-11-20T10:00:{i:02d}+08:00,62220212345{i:04d},1.00,OP{i}\n" for i in range(2, 34)]
    rows[4] = rows[4].replace(",OP6", ',"OP6')
    log = read_settlements(write(tmp_path, "".join(rows)), KEY)
    assert log.rows_read == 32 and len(log.settlements) == 31
    assert [(r.line, "unbalanced quote" in r.reason) for r in log.rejected] == [(6, True)]
    assert all(s.extra["operator"] == f"OP{s.settlement_id[1:]}" for s in log.settlements)


def test_streaming_yields_one_item_per_row(tmp_path):
    from ingest.settlements import iter_settlements

    items = list(iter_settlements(write(tmp_path, GOOD + "S2,PH1\n" + GOOD.replace("S1", "S3")), KEY))
    assert [type(i).__name__ for i in items] == ["Settlement", "RejectedRow", "Settlement"]


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig"])
def test_the_log_and_items_read_in_chinese_encodings(tmp_path, encoding):
    path = tmp_path / "settlements.csv"
    path.write_bytes((HEADER + GOOD.replace("OP1", "收银员王")).encode(encoding))
    (tmp_path / "settlement_items.csv").write_bytes(
        "settlement_id,item_code,item_name,quantity,unit_price\nS1,869,阿莫西林胶囊,2,6.25\n".encode(encoding))
    (s,) = read_settlements(path, KEY).settlements
    assert s.extra == {"operator": "收银员王"} and s.items[0].item_name == "阿莫西林胶囊"


def test_duplicate_header_column_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="column 'amount' twice"):
        read_settlements(write(tmp_path, GOOD.replace(",OP1", ",1"), header=HEADER.replace("operator", "amount")), KEY)


@pytest.mark.parametrize("bad_row", [["S1", "D2", "other", 2, "5.OO"], ["S1", "D2", "other", 2, 5, "beyond"]],
                         ids=["bad-number", "cell-beyond-the-header"])
def test_a_rejected_workbook_item_line_rejects_its_settlement_too(tmp_path, bad_row):
    from tests.ingest.test_xlsx import build

    path = write(tmp_path, GOOD + S2)
    header = ["settlement_id", "item_code", "item_name", "quantity", "unit_price"]
    build(tmp_path / "settlement_items.xlsx", [header, ["S1", "D1", "drug", 1, 5], ["S2", "D1", "drug", 1, 5],
                                               bad_row])
    log = read_settlements(path, KEY)
    assert [s.settlement_id for s in log.settlements] == ["S2"]
    assert [(r.source, r.line) for r in log.rejected] == [("settlements.csv", 2),
                                                          ("settlement_items.xlsx sheet Sheet", 4)]
    assert "item line 4 in settlement_items.xlsx sheet Sheet" in log.rejected[0].reason
