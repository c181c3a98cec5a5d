"""The parts of an ``.xlsx`` workbook that ``ingest.xlsx`` streams itself, with bounded work and
memory: the shared-string table and the first sheet, read through expat a chunk at a time.

openpyxl would hold a whole shared string (or inline string) of any size, and pads every row to
the sheet's *declared* dimension (``A1:XFD1048576``: rows of 16,384 cells). Here:

- every part's uncompressed size (declared in the zip, and enforced by ``zipfile`` as it reads) is
  bounded before anything is parsed: shared strings by ``shared_strings``, the sheet by ``sheet``,
  any other XML part by ``part`` (:class:`XlsxLimits`); a workbook over a bound is an InputError;
- a cell's text is collected up to ``max_field`` characters (the CSV limit), beyond which the cell
  is :class:`BadCell` and its row is rejected, as the CSV reader rejects such a field;
- a part that expands more than ``max_ratio``-fold (and to more than ``ratio_floor``) is refused
  as a zip bomb before it is parsed: 3 M cells fit in 89 KB;
- the declared dimension is never read: a row holds the cells written in it, empty rows cost only
  their own bytes, and rows must come in order within the sheet's 1,048,576 (so at most that many);
- a row is bounded too (:class:`SheetRows`): a cell past column XFD (16,384, counting cells without
  a reference) or a second cell in one column refuses the workbook, and past the header's width
  only the first non-blank cell is held (it rejects its row).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO
from xml.parsers import expat

from ingest.csv_reader import MAX_FIELD, size_text
from rxaudit.errors import InputError

MIB = 1024 * 1024
MAX_COLUMN = 16384  # XFD, the last column a sheet can have
MAX_ROW = 1_048_576  # the last row a sheet can have
CHUNK = 1024 * 1024  # bytes fed to expat at a time


@dataclass(frozen=True, slots=True)
class XlsxLimits:
    """Bounds on a workbook: ``shared_strings`` and ``sheet`` are the uncompressed sizes of those
    parts, ``part`` of any other XML part openpyxl reads whole; ``max_field`` characters per cell.
    The shared strings are held in memory (~3.3 bytes of memory per byte of table at worst: 13 M
    distinct 8-digit strings in 250 MB took 830 MB); their bound fits a full-height sheet (1,048,576
    rows) with three distinct 20-character texts per row (id, card, time). The sheet is streamed:
    its bound fits a full-height sheet of a dozen inline-string columns."""

    shared_strings: int = 128 * MIB
    sheet: int = 1024 * MIB
    part: int = 16 * MIB
    max_field: int = MAX_FIELD
    # a part larger than ``ratio_floor`` that expands more than ``max_ratio``-fold is a zip bomb:
    # real sheets compress 7-15x (200,000 settlement rows: 7.3x with varied ids, cards and times,
    # 14.5x with one pharmacy, card and amount; 10.5x for rows of 20 empty cells and a number), a
    # crafted one 500-1000x (3 M cells in 89 KB); small parts compress as they may
    max_ratio: int = 100
    ratio_floor: int = 10 * MIB


@dataclass(frozen=True, slots=True)
class BadCell:
    """A cell that cannot be used; ``problem`` completes ``<column> ...`` (never holds the value)."""

    problem: str


def bytes_text(n: int) -> str:
    return f"{n // MIB} MB" if n >= MIB else f"{n // 1024} KB" if n >= 1024 else f"{n} bytes"


def check_part_sizes(archive: zipfile.ZipFile, path: Path, content_types: dict[str, str],
                     limits: XlsxLimits) -> None:
    """InputError for the first XML part larger (uncompressed) than its bound."""
    from openpyxl.xml.constants import SHARED_STRINGS, WORKSHEET_TYPE

    bound_of = {SHARED_STRINGS: ("shared strings", limits.shared_strings), WORKSHEET_TYPE: ("sheet", limits.sheet)}
    for info in archive.infolist():
        if not info.filename.endswith((".xml", ".rels")):
            continue  # (media and the like: never read)
        what, bound = bound_of.get(content_types.get(info.filename, ""), ("part", limits.part))
        if info.file_size > bound:
            raise InputError(f"{path}: the workbook's {what} {info.filename} holds {bytes_text(info.file_size)} "
                             f"uncompressed, more than the {bytes_text(bound)} an input may hold; save it as CSV")
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise InputError(f"{path}: the workbook's {what} {info.filename} expands {ratio}-fold to "
                             f"{bytes_text(info.file_size)} (a spreadsheet expands at most {limits.max_ratio}-fold: "
                             "a zip bomb?); save it as CSV")


def _column_number(reference: str) -> int:
    """``AB12`` -> 28; beyond the last column -> MAX_COLUMN + 1; no letters -> 0."""
    number = 0
    for char in reference:
        if "A" <= char <= "Z":
            number = number * 26 + ord(char) - 64
        elif "a" <= char <= "z":
            number = number * 26 + ord(char) - 96
        else:
            break
        if number > MAX_COLUMN:
            return MAX_COLUMN + 1
    return number


def _filled(value: object) -> bool:
    """A cell value that is more than blank (a BadCell is)."""
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


class _Text:
    """Collects character data up to ``limit`` characters, counting the rest."""

    __slots__ = ("limit", "parts", "length")

    def __init__(self, limit: int) -> None:
        self.limit, self.parts, self.length = limit, [], 0

    def add(self, data: str) -> None:
        if self.length <= self.limit:
            self.parts.append(data)
        self.length += len(data)

    def value(self) -> str | BadCell:
        if self.length > self.limit:
            return BadCell(f"is longer than {size_text(self.limit)}")
        return "".join(self.parts)


def _parse(source: IO[bytes], start: Callable, end: Callable, chars: Callable,
           path: Path) -> Iterator[None]:
    """Feed ``source`` to expat a chunk at a time, yielding after each chunk (so callers can hand
    on what the handlers collected)."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, chars
    try:
        while chunk := source.read(CHUNK):
            parser.Parse(chunk, False)
            yield
        parser.Parse(b"", True)
    except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read as an .xlsx workbook: {exc}") from None
    yield


def _local(name: str) -> str:
    return name.rpartition("}")[2]


def read_shared_strings(source: IO[bytes], path: Path, max_field: int = MAX_FIELD) -> list[str | BadCell]:
    """The shared-string table: each ``<si>``'s text (its runs, not its phonetic ``rPh`` hints), as
    openpyxl reads it; a string longer than ``max_field`` becomes a :class:`BadCell`."""
    strings: list[str | BadCell] = []
    state = {"text": None, "collect": False, "phonetic": False}

    def start(name: str, attrs: dict) -> None:
        local = _local(name)
        if local == "si":
            state["text"] = _Text(max_field)
        elif local == "rPh":
            state["phonetic"] = True
        elif local == "t" and state["text"] is not None and not state["phonetic"]:
            state["collect"] = True

    def end(name: str) -> None:
        local = _local(name)
        if local == "t":
            state["collect"] = False
        elif local == "rPh":
            state["phonetic"] = False
        elif local == "si" and state["text"] is not None:
            value = state["text"].value()
            strings.append(value.replace("x005F_", "") if isinstance(value, str) else value)
            state["text"] = None

    def chars(data: str) -> None:
        if state["collect"]:
            state["text"].add(data)

    for _ in _parse(source, start, end, chars, path):
        pass
    return strings


@dataclass(frozen=True, slots=True)
class CellFormats:
    """What openpyxl read of the workbook's styles: which style ids are dates (or durations)."""

    date_styles: frozenset[int]
    timedelta_styles: frozenset[int]
    epoch: datetime


class SheetRows:
    """``(row number, {column number: value})`` for each ``<row>`` of a sheet, in file order
    (iterate it), from expat handlers. A row is bounded whatever the file says: one cell per column,
    none past XFD (either is an InputError: no spreadsheet program writes it, and a crafted row of
    10 M cells would take minutes), and once :attr:`width` is set (the header's) only the first
    non-blank cell past it is kept, which is enough to reject its row. (Rows parsed with the header,
    in the same chunk of input, are held as written: bounded by the chunk's bytes.)"""

    def __init__(self, source: IO[bytes], path: Path, shared: list[str | BadCell], formats: CellFormats,
                 max_field: int = MAX_FIELD) -> None:
        self.source, self.path, self.shared, self.formats, self.max_field = source, path, shared, formats, max_field
        self.width: int | None = None
        self.done: list[tuple[int, dict[int, object]]] = []
        self.row, self.cells, self.column, self.columns = 0, {}, 0, set()
        self.kind, self.style, self.text = "n", 0, _Text(max_field)
        self.collect = self.phonetic = self.beyond_kept = False
        self.keep = True  # the current cell is held

    def __iter__(self) -> Iterator[tuple[int, dict[int, object]]]:
        for _ in _parse(self.source, self.start, self.end, self.chars, self.path):
            yield from self.done
            self.done.clear()

    def start(self, name: str, attrs: dict) -> None:
        local = _local(name)
        if local == "row":
            number = attrs.get("r", "")
            row = int(number) if number.isdigit() else self.row + 1
            if not self.row < row <= MAX_ROW:
                raise InputError(f"{self.path}: sheet row {row} follows row {self.row} (rows must be in "
                                 f"order, at most {MAX_ROW})")
            self.row, self.cells, self.column, self.columns, self.beyond_kept = row, {}, 0, set(), False
        elif local == "c":
            self._start_cell(attrs)
        elif not self.keep:
            return
        elif local == "v" or (local == "t" and self.kind == "inlineStr" and not self.phonetic):
            self.collect = True
        elif local == "rPh":
            self.phonetic = True

    def _start_cell(self, attrs: dict) -> None:
        reference = attrs.get("r")
        column = _column_number(reference) if reference else self.column + 1
        if not 0 < column <= MAX_COLUMN:
            where = "names no column" if column == 0 else f"lies past column XFD ({MAX_COLUMN:,})"
            raise InputError(f"{self.path}: sheet row {self.row}: a cell {where}; not a workbook a "
                             "spreadsheet program wrote")
        if column in self.columns:
            from openpyxl.utils import get_column_letter

            raise InputError(f"{self.path}: sheet row {self.row}, column {get_column_letter(column)}: a second "
                             "cell in the same column; not a workbook a spreadsheet program wrote")
        self.columns.add(column)
        self.column = column
        self.keep = self.width is None or column <= self.width or not self.beyond_kept
        if self.keep:
            self.kind, style = attrs.get("t", "n"), attrs.get("s", "")
            self.style = int(style) if style.isdigit() else 0
            self.text = _Text(self.max_field)

    def end(self, name: str) -> None:
        local = _local(name)
        if local in ("v", "t"):
            self.collect = False
        elif local == "rPh":
            self.phonetic = False
        elif local == "c" and self.keep:
            self._keep_cell(self._value())
        elif local == "row":
            self.done.append((self.row, self.cells))

    def _keep_cell(self, value: object) -> None:
        if value is None:
            return
        if self.width is not None and self.column > self.width:
            if not _filled(value):
                return
            self.beyond_kept = True
        self.cells[self.column] = value

    def chars(self, data: str) -> None:
        if self.collect:
            self.text.add(data)

    def _value(self) -> object:
        text = self.text.value()
        if isinstance(text, BadCell) or self.kind in ("inlineStr", "str", "e"):
            return text if text != "" else None
        if text == "":
            return None
        try:
            return self._typed(text)
        except (ValueError, IndexError, OverflowError):
            return BadCell("is not a value its cell type allows")

    def _typed(self, text: str) -> object:
        from openpyxl.utils.datetime import from_excel, from_ISO8601

        if self.kind == "s":
            index = int(text)
            if index < 0:
                raise IndexError(index)
            return self.shared[index]
        if self.kind == "b":
            return bool(int(text))
        if self.kind == "d":
            return from_ISO8601(text)
        number = float(text) if any(c in text for c in ".eE") else int(text)
        if self.style in self.formats.date_styles:
            return from_excel(number, self.formats.epoch, timedelta=self.style in self.formats.timedelta_styles)
        return number
