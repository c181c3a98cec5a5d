"""The one streaming CSV reader behind every CSV input (settlement log, items, catalogue, pharmacies).

    with open_csv(path, required=("settlement_id", "amount")) as rows:
        rows.header                       # ('settlement_id', ..., 'amount'), stripped, aliases applied
        for row in rows:                  # lazily, one record at a time: a 1 M-row log is never in memory
            if isinstance(row, CsvReject):
                ...                       # row.line, row.end_line, row.reason (never a field value)
            else:
                row.line, row.values      # values: {column: raw text}
        rows.rows_read                    # records yielded so far, good and rejected

The file is read as physical lines (bytes, each at most ``max_line`` long, so one enormous line never
sits in memory). A line without a quote is split on commas; a line with quotes is parsed by the
``csv`` module (strict). A quoted field may span lines only within ``max_record_lines`` lines and
only while the following lines do not look like rows of their own; otherwise the line that opened
the quote is rejected and reading goes on at the next line. So one unbalanced quote costs one row.
Every non-blank line after the header ends up in exactly one yielded record.

A record is rejected (never an exception) when it has more or fewer fields than the header, a field
longer than ``max_field`` characters, a NUL byte or another control character, or broken quoting.
File-level problems are :class:`InputError`: cannot open, empty, a header lacking a required column,
a column named twice, text that is neither UTF-8 nor GB18030, or both mixed (or not the encoding named).

Encodings (``ingest.encodings``): ``"auto"`` reads UTF-8 (with or without BOM) and GB18030 (a
superset of GBK/GB2312), chosen from the whole file before its first row is read: UTF-8 when every
line is, refused as mixed when the file is mostly UTF-8 but some line is not, else GB18030 (a
byte-order mark decides first); a line that is not text in the chosen encoding is an
:class:`InputError` naming the file and the line. Any other ASCII-compatible codec may be named.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ingest.encodings import AUTO, Decoder, check_encoding, sniff_encoding
from ingest.input_files import require_regular_file
from rxaudit.errors import InputError

__all__ = ["AUTO", "CsvReject", "CsvRow", "CsvSource", "check_encoding", "check_header", "field_problem",
           "open_csv", "read_text", "size_text"]

MAX_FIELD = 128 * 1024  # characters in one field (the csv module's own default limit)
MAX_LINE = 1024 * 1024  # bytes in one physical line
MAX_RECORD_LINES = 8  # physical lines one quoted field may span
SNIFF_CHUNK = 1024 * 1024  # bytes read at a time to choose the encoding
# NUL and the other C0 controls except tab (and newline inside a quoted field), and DEL
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BLANK = re.compile(r"[\s,]*")


class CsvRow(NamedTuple):  # (a tuple: made millions of times, several times faster than a frozen dataclass)
    line: int  # 1-based physical line where the record starts
    end_line: int  # where it ends (> line only when a quoted field spans lines)
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class CsvReject:
    line: int
    end_line: int
    reason: str  # names columns and lines only, never a field's value
    # the record's fields as far as they could be split (never printed): lets a reader tell whose
    # row it was, e.g. which settlement a rejected item line belongs to; () when unknown
    fields: tuple[str, ...] = ()

    @property
    def lines(self) -> str:
        return f"lines {self.line}-{self.end_line}" if self.end_line != self.line else f"line {self.line}"


def _chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(SNIFF_CHUNK):
        yield chunk


@dataclass(frozen=True, slots=True)
class _LongLine:
    """A line longer than the limit, skipped: only its ``head`` (its first fields) is kept."""

    head: str


LONG_LINE_HEAD = 4096  # bytes of a skipped long line kept to tell whose row it was


def _physical_lines(fh: BinaryIO, decoder: Decoder, max_line: int) -> Iterator[tuple[int, str | _LongLine]]:
    """(line number, text without its line break), or (n, _LongLine) for a line longer than
    ``max_line`` bytes, which is skipped without being held in memory."""
    number = 0
    while True:
        raw = fh.readline(max_line + 1)
        if not raw:
            return
        number += 1
        if number == 1:
            raw = decoder.strip_bom(raw)
        if len(raw) > max_line and not raw.endswith(b"\n"):
            head = _LongLine(raw[:LONG_LINE_HEAD].decode(decoder.encoding, errors="ignore"))
            while raw and not raw.endswith(b"\n"):
                raw = fh.readline(max_line + 1)
            yield number, head
            continue
        yield number, decoder.decode(raw.rstrip(b"\r\n"), number)


_OPEN = object()  # the record text ends inside a quoted field


def _parse_quoted(text: str) -> list[str] | str | object:
    """Fields, or _OPEN, or a reason (str) why the quoting is broken."""
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as exc:
        message = str(exc)
        if "unexpected end of data" in message:
            return _OPEN
        if "field larger than" in message:
            return f"row has a field longer than {MAX_FIELD // 1024} KB"
        return "row has broken quoting (a quote must open and close a whole field)"
    except StopIteration:
        return []


def check_header(names: Sequence[str], required: Iterable[str],
                 where: Callable[[int | None], str]) -> tuple[str, ...]:
    """The header of any table (CSV or a workbook's sheet), checked: every column named, no control
    characters, no name twice, every ``required`` column there. ``where(index)`` names the header
    (``None``) or its ``index``-th column (1-based) in an error."""
    seen: set[str] = set()
    for index, name in enumerate(names, 1):
        if not name:
            raise InputError(f"{where(index)} has no name")
        if _CONTROL.search(name):
            raise InputError(f"{where(index)} holds a control character")
        if name in seen:
            raise InputError(f"{where(index)} names column {name!r} twice")
        seen.add(name)
    missing = [c for c in required if c not in seen]
    if missing:
        raise InputError(f"{where(None)} lacks column(s) {', '.join(missing)}")
    return tuple(names)


class CsvSource:
    """An open CSV file: ``header`` and a one-pass iterator of :class:`CsvRow` / :class:`CsvReject`."""

    def __init__(self, path: Path, *, required: Iterable[str] = (), encoding: str = AUTO,
                 aliases: Mapping[str, str] | None = None, max_field: int = MAX_FIELD,
                 max_line: int = MAX_LINE, max_record_lines: int = MAX_RECORD_LINES) -> None:
        self.path = Path(path)
        try:
            encoding = check_encoding(encoding)
        except ValueError as exc:
            raise InputError(f"{self.path}: {exc}") from None
        self.max_field, self.max_line, self.max_record_lines = max_field, max_line, max_record_lines
        require_regular_file(self.path)
        try:
            self._fh: BinaryIO = self.path.open("rb")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open: {exc.strerror or exc}") from exc
        try:
            sniffed = sniff_encoding(_chunks(self._fh)) if encoding == AUTO else None
            self._fh.seek(0)
            self._decoder = Decoder(self.path, encoding, sniffed)
        except OSError as exc:
            self.close()
            raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        except BaseException:
            self.close()
            raise
        self._lines = _physical_lines(self._fh, self._decoder, max_line)
        self._pending: deque[tuple[int, str | _LongLine]] = deque()
        self.rows_read = 0
        try:
            self.header = self._read_header(tuple(required), aliases or {})
        except BaseException:
            self.close()
            raise
        self._width = len(self.header)

    @property
    def source(self) -> str:
        """How rejected rows name the file."""
        return self.path.name

    @property
    def encoding(self) -> str:
        """The encoding in use (named, or chosen from the whole file)."""
        return self._decoder.encoding

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_header(self, required: tuple[str, ...], aliases: Mapping[str, str]) -> tuple[str, ...]:
        self._width = 0
        for record in self._records():
            if isinstance(record, CsvReject):
                raise InputError(f"{self.path}: header ({record.lines}): {record.reason}")
            names = [aliases.get(n.strip(), n.strip()) for n in record[2]]
            return check_header(names, required, lambda index: (
                f"{self.path}: header" if index is None else f"{self.path}: header column {index}"))
        raise InputError(f"{self.path}: is empty (no header line)")

    def _next_line(self) -> tuple[int, str | _LongLine] | None:
        if self._pending:
            return self._pending.popleft()
        return next(self._lines, None)

    def _records(self) -> Iterator[tuple[int, int, list[str], str] | CsvReject]:
        """(first line, last line, fields, text) per record, or a CsvReject; blank lines skipped."""
        pending, lines, blank = self._pending, self._lines, _BLANK.fullmatch  # (_next_line, inlined)
        while True:
            if pending:
                number, text = pending.popleft()
            else:
                item = next(lines, None)
                if item is None:
                    return
                number, text = item
            if type(text) is _LongLine:  # its last (cut) field left out
                yield CsvReject(number, number, f"line is longer than {size_text(self.max_line)}",
                                tuple(text.head.split(",")[:-1]))
                continue
            if (not text or text[0] == "," or text[0].isspace()) and blank(text):  # (a row starts otherwise)
                continue
            if '"' not in text:
                yield number, number, text.split(","), text
                continue
            yield self._quoted_record(number, text)

    def _quoted_record(self, number: int, text: str) -> tuple[int, int, list[str], str] | CsvReject:
        parts: list[tuple[int, str]] = [(number, text)]
        while True:
            joined = "\n".join(t for _, t in parts)
            result = _parse_quoted(joined)
            if isinstance(result, list):
                if len(parts) == 1 or not self._width or len(result) == self._width:
                    return number, parts[-1][0], result, joined
                break  # the quote closed somewhere in later rows: not a legitimate span
            if isinstance(result, str):
                if len(parts) == 1:
                    return CsvReject(number, number, result, tuple(text.split(",")))
                break
            following = self._next_line() if len(parts) < self.max_record_lines else None
            if following is None or isinstance(following[1], _LongLine) or self._looks_like_row(following[1]):
                if following is not None:
                    self._pending.appendleft(following)
                break
            parts.append((following[0], following[1]))
        # the quote opened on `number` does not close within reason: reject that line alone and
        # read the lines it swallowed again, as rows of their own
        self._pending.extendleft(reversed(parts[1:]))
        return CsvReject(number, number, "row has an unbalanced quote (a quoted field does not "
                                         "close on this line)", tuple(text.split(",")))

    def _looks_like_row(self, text: str) -> bool:
        return self._width >= 3 and text.count(",") >= self._width - 1

    def __iter__(self) -> Iterator[CsvRow | CsvReject]:
        header, width, max_field = self.header, self._width, self.max_field
        for record in self._records():
            self.rows_read += 1
            if isinstance(record, CsvReject):
                yield record
                continue
            first, last, fields, text = record
            if len(fields) != width:
                more = "more" if len(fields) > width else "fewer"
                yield CsvReject(first, last, f"row has {more} fields ({len(fields)}) than the "
                                             f"header names ({width})", tuple(fields))
                continue
            if len(text) > max_field or _CONTROL.search(text):
                problem = field_problem(header, fields, max_field)
                if problem:
                    yield CsvReject(first, last, problem, tuple(fields))
                    continue
            yield CsvRow(first, last, dict(zip(header, fields)))


def field_problem(header: Sequence[str], fields: Sequence[str], max_field: int) -> str | None:
    """Why a record's fields cannot be used (too long, a control character), or None."""
    for name, value in zip(header, fields):
        if len(value) > max_field:
            return f"{name} is longer than {size_text(max_field)}"
        found = _CONTROL.search(value)
        if found:
            what = "a NUL byte" if found.group() == "\x00" else "a control character"
            return f"{name} holds {what}"
    return None


def size_text(n: int) -> str:
    """A limit in characters, as reasons word it: ``128 KB``, ``64 characters``."""
    return f"{n // 1024} KB" if n >= 1024 and n % 1024 == 0 else f"{n} characters"


def open_csv(path: Path, *, required: Iterable[str] = (), encoding: str = AUTO,
             aliases: Mapping[str, str] | None = None, **limits: int) -> CsvSource:
    """Open ``path`` and read its header (InputError if it cannot be used); iterate the result."""
    return CsvSource(path, required=required, encoding=encoding, aliases=aliases, **limits)


def read_text(path: Path, encoding: str = AUTO) -> str:
    """A small text file (YAML) whole, with the same encoding rules as the CSV reader."""
    path = Path(path)
    try:
        encoding = check_encoding(encoding)
        require_regular_file(path)
        data = path.read_bytes()
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    decoder = Decoder(path, encoding, sniff_encoding([data]) if encoding == AUTO else None)
    lines = data.split(b"\n")
    if lines:
        lines[0] = decoder.strip_bom(lines[0])
    return "\n".join(decoder.decode(raw, n) for n, raw in enumerate(lines, 1))
