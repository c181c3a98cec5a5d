"""The shared streaming CSV reader: good input read as written, bad rows rejected with their lines
(the others still read), file-level problems an InputError that names the file, line or column."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.csv_reader import CsvReject, CsvRow, check_encoding, open_csv, read_text
from rxaudit.errors import InputError

HEADER = "id,name,note\n"


def write(tmp_path: Path, text: str | bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def read_all(path: Path, **kwargs) -> tuple[tuple[str, ...], list[CsvRow | CsvReject], int]:
    with open_csv(path, **kwargs) as rows:
        items = list(rows)
        return rows.header, items, rows.rows_read


@pytest.mark.parametrize("data, rows", [
    (HEADER + "1,a,x\n2,b,y\n", [(2, {"id": "1", "name": "a", "note": "x"}), (3, {"id": "2", "name": "b", "note": "y"})]),
    ("\ufeff" + HEADER + "1,a,x\r\n", [(2, {"id": "1", "name": "a", "note": "x"})]),
    (" id , name ,note\n1,a,\n", [(2, {"id": "1", "name": "a", "note": ""})]),
    (HEADER + '1,"a, b","say ""hi"""\n', [(2, {"id": "1", "name": "a, b", "note": 'say "hi"'})]),
    (HEADER + '1,a,"two\r\nlines"\n2,b,y\n', [(2, {"id": "1", "name": "a", "note": "two\nlines"}),
                                            (4, {"id": "2", "name": "b", "note": "y"})]),
    (HEADER + "\n1,a,x\n\n,,\n2,b,\ty\n", [(3, {"id": "1", "name": "a", "note": "x"}),
                                          (6, {"id": "2", "name": "b", "note": "\ty"})]),
    ("\n" + HEADER + "1,阿莫西林,x\n", [(3, {"id": "1", "name": "阿莫西林", "note": "x"})]),
], ids=["plain", "bom-crlf", "header-spaces", "quoted", "multiline", "blank-lines", "utf8"])
def test_good_input_is_read_as_written(tmp_path, data, rows):
    header, items, read = read_all(write(tmp_path, data))
    assert header == ("id", "name", "note")
    assert [(r.line, r.values) for r in items] == rows and read == len(rows)


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
@pytest.mark.parametrize("bom", [b"", "\ufeff".encode("gb18030")])
def test_gbk_and_gb18030_are_detected(tmp_path, encoding, bom):
    text = HEADER + "1,阿莫西林胶囊,朝阳区\n2,薯片,海淀区\n"
    header, items, _ = read_all(write(tmp_path, bom + text.encode(encoding)))
    assert [r.values["name"] for r in items] == ["阿莫西林胶囊", "薯片"]


def test_a_gb18030_file_whose_first_lines_are_ascii(tmp_path):
    text = HEADER + "".join(f"{i},a,x\n" for i in range(50)) + "99,薯片,海淀区\n"
    _, items, _ = read_all(write(tmp_path, text.encode("gb18030")))
    assert items[-1].values["note"] == "海淀区" and len(items) == 51


def test_a_gbk_file_whose_first_chinese_name_is_also_utf8_is_gbk(tmp_path):
    """喹茶爱 in GBK is e0 ad b2 e8 b0 ae, valid UTF-8 (୲谮): the file as a whole decides."""
    names = ["喹茶爱", "阿莫西林胶囊", "薯片", "布洛芬缓释胶囊"]
    assert "喹茶爱".encode("gbk").decode("utf-8")  # (the premise)
    text = HEADER + "".join(f"{i},{name},x\n" for i, name in enumerate(names, 1))
    with open_csv(write(tmp_path, text.encode("gbk"))) as rows:
        assert [r.values["name"] for r in rows] == names and rows.encoding == "gb18030"


def test_a_file_that_is_utf8_throughout_is_utf8_however_late_its_chinese(tmp_path):
    text = HEADER + "".join(f"{i},a,x\n" for i in range(3000)) + "99,喹茶爱,朝阳区\n"
    _, items, _ = read_all(write(tmp_path, text), )
    assert items[-1].values["name"] == "喹茶爱"


def test_a_named_encoding_is_used(tmp_path):
    path = write(tmp_path, (HEADER + "1,薯片,x\n").encode("gb18030"))
    assert read_all(path, encoding="GB18030")[1][0].values["name"] == "薯片"
    with pytest.raises(InputError, match=r"line 2 is not utf-8 text.*--encoding"):
        read_all(path, encoding="utf-8")


BIG = "x" * (128 * 1024 + 1)


@pytest.mark.parametrize("bad, reason", [
    ('3,c,"OP5\n', "unbalanced quote"),  # the quote never closes: the rows after it are still read
    ('3,"c"d,x\n', "broken quoting"),
    ("3,c\n", "fewer fields (2) than the header names (3)"),
    ("3,c,x,y\n", "more fields (4) than the header names (3)"),
    (f"3,{BIG},x\n", "name is longer than 128 KB"),
    (f'3,"{BIG}",x\n', "field longer than 128 KB"),
    ("3,c\x00,x\n", "name holds a NUL byte"),
    ("3,c,x\x07\n", "note holds a control character"),
    ("3,c\rd,x\n", "name holds a control character"),
], ids=["unbalanced", "quote-then-text", "fewer", "more", "big", "big-quoted", "nul", "bell", "cr"])
def test_a_bad_row_is_rejected_with_its_line_and_the_rest_are_read(tmp_path, bad, reason):
    data = HEADER + "1,a,x\n2,b,y\n" + bad + "4,d,z\n5,e,w\n"
    _, items, read = read_all(write(tmp_path, data))
    good = [r.values["id"] for r in items if isinstance(r, CsvRow)]
    (rejected,) = [r for r in items if isinstance(r, CsvReject)]
    assert good == ["1", "2", "4", "5"] and rejected.line == 4 and reason in rejected.reason
    assert read == 5  # every data line is one record, good or rejected


def test_an_unbalanced_quote_costs_one_row_however_many_follow(tmp_path):
    rows = [f"{i},n{i},x" for i in range(2, 33)]
    rows[4] = '6,n6,"OP5'
    header, items, read = read_all(write(tmp_path, HEADER + "\n".join(rows) + "\n"))
    assert [(r.line, type(r).__name__) for r in items if isinstance(r, CsvReject)] == [(6, "CsvReject")]
    assert len([r for r in items if isinstance(r, CsvRow)]) == 30 and read == 31
    assert all('"' not in r.values["note"] and "\n" not in r.values["note"]
               for r in items if isinstance(r, CsvRow))


def test_a_quoted_field_spanning_rows_that_look_like_rows_is_not_joined(tmp_path):
    # the quote on line 2 would close on line 4, but line 3 is a whole row of its own
    data = HEADER + '1,a,"x\n2,b,y\n3,c",z\n4,d,w\n'
    _, items, read = read_all(write(tmp_path, data))
    assert [(r.line, isinstance(r, CsvRow)) for r in items] == [(2, False), (3, True), (4, True), (5, True)]
    assert items[2].values["name"] == 'c"' and read == 4  # a quote inside a field is a character


def test_a_quoted_field_may_not_span_more_than_the_limit(tmp_path):
    data = HEADER + '1,a,"' + "word\n" * 20 + '"\n2,b,y\n'
    _, items, _ = read_all(write(tmp_path, data), max_record_lines=8)
    assert isinstance(items[0], CsvReject) and items[0].line == 2
    assert [r.values["id"] for r in items if isinstance(r, CsvRow)] == ["2"]
    _, items, _ = read_all(write(tmp_path, data), max_record_lines=30)
    assert items[0].values["note"].count("word") == 20 and items[0].end_line == 22


def test_an_overlong_line_is_skipped_without_being_held(tmp_path):
    data = HEADER + "1,a,x\n2,b," + "y" * 5000 + "\n3,c,z\n"
    _, items, read = read_all(write(tmp_path, data), max_line=1000)
    assert [type(r).__name__ for r in items] == ["CsvRow", "CsvReject", "CsvRow"]
    assert items[1].line == 3 and "longer than" in items[1].reason and read == 3


def test_rows_are_read_lazily(tmp_path):
    path = write(tmp_path, HEADER + "1,a,x\n" * 200_000)
    with open_csv(path) as rows:
        first = next(iter(rows))
        assert first.line == 2 and rows._fh.tell() < path.stat().st_size / 10


@pytest.mark.parametrize("data, kwargs, message", [
    ("id,amount,amount\n1,2,3\n", {}, "column 'amount' twice"),
    ("id,amount, amount \n1,2,3\n", {}, "column 'amount' twice"),
    ("id,金额,amount\n1,2,3\n", {"aliases": {"金额": "amount"}}, "column 'amount' twice"),
    ("id,,note\n1,2,3\n", {}, "header column 2 has no name"),
    ("id,na\x00me,note\n1,2,3\n", {}, "header column 2 holds a control character"),
    ("", {}, "is empty"),
    ("\n\n", {}, "is empty"),
    ("id,name\n1,a\n", {"required": ("id", "amount")}, "lacks column(s) amount"),
    ('id,"name\n1,a\n', {}, "header (line 1)"),
], ids=["dup", "dup-spaces", "dup-alias", "unnamed", "nul-name", "empty", "blank", "missing", "header-quote"])
def test_file_level_problems_are_input_errors(tmp_path, data, kwargs, message):
    with pytest.raises(InputError, match="in.csv") as info:
        read_all(write(tmp_path, data), **kwargs)
    assert message in str(info.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot open"):
        open_csv(tmp_path / "nope.csv")


def test_aliases_rename_header_columns(tmp_path):
    header, items, _ = read_all(write(tmp_path, "编号,name\n1,a\n"), aliases={"编号": "id"})
    assert header == ("id", "name") and items[0].values == {"id": "1", "name": "a"}


@pytest.mark.parametrize("name, expected", [
    ("auto", "auto"), ("UTF-8", "utf-8"), ("gbk", "gb18030"), ("GB2312", "gb18030"), ("gb18030", "gb18030"),
])
def test_check_encoding_accepts(name, expected):
    assert check_encoding(name) == expected


@pytest.mark.parametrize("name", ["utf-16", "utf-32", "klingon"])
def test_check_encoding_refuses(name):
    with pytest.raises(ValueError, match=name):
        check_encoding(name)


@pytest.mark.parametrize("data", ["a: 朝阳区\n".encode("gb18030"), "\ufeffa: 朝阳区\n".encode(), "a: 朝阳区\n".encode()])
def test_read_text_decodes_like_the_csv_reader(tmp_path, data):
    assert read_text(write(tmp_path, data, "c.yaml")).strip() == "a: 朝阳区"
