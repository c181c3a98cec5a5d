"""Encoding detection of text inputs (its tables moved here from test_csv_reader): a file mostly
UTF-8 with a line in another encoding is refused as mixed (never decoded whole as GB18030 into
mojibake), and every error names the line whose bytes are wrong, not the first line that the
chosen encoding happens to trip on."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.csv_reader import open_csv, read_text
from ingest.encodings import sniff_encoding
from rxaudit.errors import InputError

HEADER = b"settlement_id,item_code,item_name,quantity,unit_price\n"
UTF8_LINES = "T0,D1,阿莫西林胶囊,1,5.00\nT0,D2,板蓝根颗粒,2,5.00\nT1,D3,口罩,1,3.00\n".encode()
GBK_LINE = "T9,D4,口罩,1,1.00\n".encode("gb18030")


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "settlement_items.csv"
    path.write_bytes(data)
    return path


def names(path: Path) -> list[str]:
    with open_csv(path) as rows:
        return [row.values["item_name"] for row in rows]


@pytest.mark.parametrize("data, message", [
    (HEADER + UTF8_LINES + b"T9,D4,x\xff,1,1.00\n", "line 5 is not UTF-8 text, though 3 of its 4 lines"),
    (HEADER + UTF8_LINES + GBK_LINE, "line 5 is not UTF-8 text, though 3 of its 4 lines"),
    (HEADER + "T0,D1,阿莫西林胶囊,1,5.00\nT0,D2,阿莫西林胶囊,2,5.00\n".encode() + GBK_LINE,
     "line 4 is not UTF-8 text, though 2 of its 3 lines"),
    # one UTF-8 line (not "mostly"): GB18030 is chosen, and this line's bytes are not GB18030
    (HEADER + "T0,D2,板蓝根颗粒,2,5.00\n".encode() + GBK_LINE,
     "line 2 is UTF-8 text but line 3 is not: it mixes encodings"),
    # text in neither encoding, a byte-order mark that the text does not follow, UTF-16
    (HEADER + b"1,\xff\xfe\xff,x\n", "line 2 is neither UTF-8 nor GB18030"),
    (HEADER + GBK_LINE + b"2,\x81\x20,x\n", "line 3 is neither UTF-8 nor GB18030"),
    ("\ufeff".encode() + HEADER + GBK_LINE, "line 2 is not utf-8 text"),
    ("\ufeff".encode("utf-16-le") + HEADER.decode().encode("utf-16-le"), "UTF-16"),
], ids=["utf8-then-stray-byte", "utf8-then-gb18030-line", "names-also-valid-gb18030", "one-utf8-line-then-gbk",
        "undecodable", "undecodable-late", "utf8-bom-then-gbk", "utf16"])
def test_undecodable_or_mixed_text_is_refused_naming_the_line_at_fault(tmp_path, data, message):
    with pytest.raises(InputError, match="settlement_items.csv") as info:
        names(write(tmp_path, data))
    assert message in str(info.value)


def test_a_gbk_file_with_one_line_that_is_also_utf8_is_still_gbk(tmp_path):
    """喹茶爱 in GBK is valid UTF-8 too: one such line among GBK lines is not "mostly UTF-8"."""
    rows = ["喹茶爱", "阿莫西林胶囊", "板蓝根颗粒"]
    data = HEADER + "".join(f"T{i},D{i},{n},1,1.00\n" for i, n in enumerate(rows)).encode("gbk")
    assert names(write(tmp_path, data)) == rows


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_sniffing_does_not_depend_on_where_chunks_split_lines_or_characters(size):
    data = HEADER + UTF8_LINES + GBK_LINE + b"\n\nplain ascii\r\n" + UTF8_LINES
    whole = sniff_encoding([data])
    assert (whole.non_ascii_lines, whole.utf8_lines, whole.first_not_utf8) == (7, 6, 5)
    assert sniff_encoding(data[i:i + size] for i in range(0, len(data), size)) == whole


def test_a_byte_order_mark_decides_and_is_never_called_mixed(tmp_path):
    data = "\ufeff".encode() + HEADER + UTF8_LINES + GBK_LINE
    with pytest.raises(InputError, match="line 5 is not utf-8 text.*byte-order mark"):
        names(write(tmp_path, data))


def test_yaml_text_is_held_to_the_same_rule(tmp_path):
    path = tmp_path / "cameras.yaml"
    path.write_bytes("# 朝阳区\n# 海淀区\n".encode() + "# 东城区\n".encode("gb18030"))
    with pytest.raises(InputError, match="line 3 is not UTF-8 text"):
        read_text(path)
