"""Which encoding a text input is in, and each line decoded in it (``ingest.csv_reader``'s CSV and
``read_text``'s YAML).

``"auto"`` reads UTF-8 (with or without BOM) and GB18030 (a superset of GBK/GB2312), chosen from the
whole file before its first row is read (:func:`sniff_encoding`, line by line, bounded memory):

- a byte-order mark decides;
- UTF-8 when every line is;
- *mixed*, refused, when some line is not UTF-8 but the lines that hold non-ASCII text are mostly
  UTF-8 (at least :data:`MIXED_MIN_UTF8_LINES` of them, and at least half): a UTF-8 export with
  lines of another encoding appended would otherwise be read whole as GB18030 and every name stored
  as mojibake. The error names the first line that is not UTF-8;
- else GB18030: a GBK file whose first Chinese name happens to be valid UTF-8 (``喹茶爱``) is still
  read as GB18030.

A line that is not text in the chosen encoding is an :class:`InputError` naming the file and that
line (and, when the line is UTF-8 and another is not, that other line). Any other ASCII-compatible
codec may be named instead of ``auto``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rxaudit.encodings import AUTO, check_encoding  # noqa: F401 - the names settings check too, from the floor
from rxaudit.errors import InputError

BOMS = ((codecs.BOM_UTF8, "utf-8"), (b"\x84\x31\x95\x33", "gb18030"))
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_NON_ASCII_LINE = re.compile(rb"[^\n\x80-\xff]*[\x80-\xff][^\n]*")  # one match per line holding non-ASCII
MIXED_MIN_UTF8_LINES = 2  # non-ASCII lines that decode as UTF-8 before a file can be "mostly UTF-8"


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What :func:`sniff_encoding` found: the lines holding non-ASCII bytes, how many of them are
    UTF-8, the first that is not (None: all are), and whether the file starts with a BOM."""

    non_ascii_lines: int
    utf8_lines: int
    first_not_utf8: int | None
    bom: bool = False

    @property
    def mixed(self) -> bool:
        return (not self.bom and self.first_not_utf8 is not None and self.utf8_lines >= MIXED_MIN_UTF8_LINES
                and 2 * self.utf8_lines >= self.non_ascii_lines)

    @property
    def encoding(self) -> str:
        return "utf-8" if self.first_not_utf8 is None else "gb18030"


class _LineTally:
    """Counts lines (split on ``\\n``) as bytes arrive, and which non-ASCII ones are UTF-8; a line
    is decoded incrementally, so a huge one is never held."""

    def __init__(self) -> None:
        self.line, self.non_ascii, self.utf8, self.first_bad = 1, 0, 0, None
        self._start_line()

    def _start_line(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._seen_non_ascii = self._bad = False

    def _feed(self, piece: bytes) -> None:
        if piece.isascii() and not self._seen_non_ascii:
            return  # (nothing pending in the decoder)
        self._seen_non_ascii = True
        if not self._bad:
            try:
                self._decoder.decode(piece)
            except UnicodeDecodeError:
                self._bad = True

    def _end_line(self) -> None:
        if self._seen_non_ascii:
            if not self._bad:
                try:
                    self._decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    self._bad = True
            self.non_ascii += 1
            if self._bad:
                self.first_bad = self.first_bad or self.line
            else:
                self.utf8 += 1
        self.line += 1
        self._start_line()

    def add(self, chunk: bytes) -> None:
        pieces = chunk.split(b"\n")
        self._feed(pieces[0])
        if len(pieces) == 1:
            return
        self._end_line()
        whole_lines = chunk[len(pieces[0]) + 1:len(chunk) - len(pieces[-1])]
        if whole_lines.isascii():  # the common cases first, at C speed: nothing to decode,
            self.line += len(pieces) - 2
        elif _is_utf8(whole_lines):  # or every line UTF-8
            found = len(_NON_ASCII_LINE.findall(whole_lines))
            self.non_ascii, self.utf8 = self.non_ascii + found, self.utf8 + found
            self.line += len(pieces) - 2
        else:
            self._tally_lines(pieces[1:-1])
        self._feed(pieces[-1])

    def _tally_lines(self, lines: list[bytes]) -> None:
        for number, raw in enumerate(lines, self.line):
            if raw.isascii():
                continue
            self.non_ascii += 1
            if _is_utf8(raw):
                self.utf8 += 1
            elif self.first_bad is None:
                self.first_bad = number
        self.line += len(lines)

    def result(self, bom: bool) -> Sniffed:
        self._end_line()
        return Sniffed(self.non_ascii, self.utf8, self.first_bad, bom)


def sniff_encoding(chunks: Iterable[bytes]) -> Sniffed:
    """What the whole text is (see the module): every line looked at, in bounded memory."""
    tally = _LineTally()
    bom = None
    for chunk in chunks:
        if bom is None:
            bom = chunk.startswith(tuple(b for b, _ in BOMS))
        tally.add(chunk)
    return tally.result(bool(bom))


class Decoder:
    """Each line in one encoding: the one named, or (``auto``) the one :func:`sniff_encoding`
    chose; a byte-order mark on the first line overrides the choice (:meth:`strip_bom`)."""

    def __init__(self, path: Path, encoding: str, sniffed: Sniffed | None = None) -> None:
        self.path = path
        self.named = encoding != AUTO
        self.sniffed = sniffed
        self.encoding = encoding if self.named or sniffed is None else sniffed.encoding
        self.by_bom = False
        if not self.named and sniffed is not None and sniffed.mixed:
            raise InputError(f"{path}: line {sniffed.first_not_utf8} is not UTF-8 text, though "
                             f"{sniffed.utf8_lines} of its {sniffed.non_ascii_lines} lines with non-ASCII "
                             "text are: it mixes encodings (an export appended to another?); save the "
                             "whole file in one encoding")

    def decode(self, raw: bytes, line: int) -> str:
        if raw.isascii():
            return raw.decode("ascii")
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise InputError(self._problem(raw, line, exc)) from None

    def _problem(self, raw: bytes, line: int, exc: UnicodeDecodeError) -> str:
        if self.named or self.by_bom:
            why = "check --encoding" if self.named else "though its byte-order mark says so"
            return f"{self.path}: line {line} is not {self.encoding} text (byte {exc.start + 1}); {why}"
        other = self.sniffed.first_not_utf8 if self.sniffed is not None else None
        if other is not None and other != line and _is_utf8(raw):
            return (f"{self.path}: line {line} is UTF-8 text but line {other} is not: it mixes encodings; "
                    "save the whole file in one encoding")
        return f"{self.path}: line {line} is neither UTF-8 nor GB18030 text; name its encoding with --encoding"

    def strip_bom(self, raw: bytes) -> bytes:
        """The first line without its byte-order mark, which then decides the encoding."""
        if raw.startswith(UTF16_BOMS):
            raise InputError(f"{self.path}: is UTF-16 text; save it as UTF-8 (or GB18030) CSV")
        for bom, encoding in BOMS:
            if raw.startswith(bom):
                if self.named and self.encoding not in (encoding, "utf-8-sig"):
                    raise InputError(f"{self.path}: starts with a {encoding} byte-order mark "
                                     f"but --encoding is {self.encoding}")
                self.encoding, self.by_bom = encoding, True
                return raw[len(bom):]
        return raw


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
