"""Canonical zips: the one byte layout a sealed case file has, written and checked without trusting it.

A case file is a plain zip any tool opens (``unzip``, Explorer), but only one layout of it is accepted:
every member stored (no compression, so nothing is ever inflated: no zip bomb), UTF-8 names, a fixed
time stamp (1980-01-01 00:00), no extra fields, no comments, no data descriptors, members back to back
from byte 0, then the central directory and the end record, nothing after it. The layout is a pure
function of the members' names, contents and order, so :func:`read_canonical` can re-derive every
header byte and demand that the file holds exactly those: a changed byte anywhere (a header, a
member, the directory, the end record) either changes a member's content or breaks the layout.

Reading is bounded: the file's size, the number of members, the length of a name, and the content is
streamed (1 MiB blocks), never held. Names are checked before anything else is done with them:
relative, ``/``-separated, no ``..``, no empty or dot parts, no backslash, colon or control character.
No member is ever extracted here.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

BLOCK = 1 << 20
MAX_MEMBERS = 20_000  # a 200-flag case file has ~2,000
MAX_NAME_BYTES = 255
MAX_ZIP_BYTES = (1 << 32) - 1  # no zip64: offsets and sizes fit 32 bits

_LOCAL = struct.Struct("<IHHHHHIIIHH")  # signature .. extra length (30 bytes)
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")  # 46 bytes
_END = struct.Struct("<IHHHHIIH")  # 22 bytes
LOCAL_SIG, CENTRAL_SIG, END_SIG = 0x04034B50, 0x02014B50, 0x06054B50
VERSION = 20  # 2.0: what every unzip reads
MADE_BY = (3 << 8) | VERSION  # unix
UTF8_FLAG = 0x0800
DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
FILE_MODE = 0o100644 << 16
_PART = re.compile(r"[^\x00-\x1f\x7f\\:*?\"<>|]+")


class ZipLayoutError(ValueError):
    """The file is not a canonical zip; the message names the first thing that is wrong."""


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    sha256: str


def check_name(name: str) -> str:
    """``name`` if it is a safe relative member name, else :class:`ZipLayoutError` naming it."""
    raw = name.encode("utf-8", "surrogatepass")
    if not name or len(raw) > MAX_NAME_BYTES:
        raise ZipLayoutError(f"member name of {len(raw)} bytes (1 to {MAX_NAME_BYTES} allowed)")
    parts = name.split("/")
    if any(p in ("", ".", "..") or not _PART.fullmatch(p) for p in parts):
        raise ZipLayoutError(f"unsafe member name {name!r}")
    return name


def _local(name: bytes, crc: int, size: int) -> bytes:
    return _LOCAL.pack(LOCAL_SIG, VERSION, UTF8_FLAG, 0, 0, DOS_DATE, crc, size, size, len(name), 0) + name


def _central(name: bytes, crc: int, size: int, offset: int) -> bytes:
    return _CENTRAL.pack(CENTRAL_SIG, MADE_BY, VERSION, UTF8_FLAG, 0, 0, DOS_DATE, crc, size, size,
                         len(name), 0, 0, 0, 0, FILE_MODE, offset) + name


def _end(count: int, size: int, offset: int) -> bytes:
    return _END.pack(END_SIG, 0, 0, count, count, size, offset, 0)


class CanonicalZipWriter:
    """Writes members in the canonical layout to ``out`` (any writable binary stream)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.offset = out, 0
        self.entries: list[tuple[bytes, int, int, int]] = []  # name, crc, size, offset
        self.names: set[str] = set()

    def _begin(self, name: str, crc: int, size: int) -> None:
        check_name(name)
        if name in self.names:
            raise ZipLayoutError(f"member {name!r} twice")
        if len(self.entries) >= MAX_MEMBERS or self.offset + size > MAX_ZIP_BYTES:
            raise ZipLayoutError("case file too large for a zip without zip64")
        raw = name.encode()
        self.names.add(name)
        self.entries.append((raw, crc, size, self.offset))
        header = _local(raw, crc, size)
        self.out.write(header)
        self.offset += len(header) + size

    def add_bytes(self, name: str, data: bytes) -> str:
        """Add ``data`` as ``name``; returns its sha256 (hex)."""
        self._begin(name, zlib.crc32(data), len(data))
        self.out.write(data)
        return hashlib.sha256(data).hexdigest()

    def add_file(self, name: str, path: Path) -> str:
        """Add the file at ``path`` (streamed twice: CRC and digest, then the copy); returns its sha256."""
        crc, size, digest = 0, 0, hashlib.sha256()
        with Path(path).open("rb") as fh:
            for block in iter(lambda: fh.read(BLOCK), b""):
                crc, size = zlib.crc32(block, crc), size + len(block)
                digest.update(block)
            self._begin(name, crc, size)
            fh.seek(0)
            copied = 0
            for block in iter(lambda: fh.read(BLOCK), b""):
                copied += len(block)
                self.out.write(block)
        if copied != size:
            raise OSError(f"{name} changed while it was written")
        return digest.hexdigest()

    def close(self) -> None:
        directory = b"".join(_central(*entry) for entry in self.entries)
        self.out.write(directory + _end(len(self.entries), len(directory), self.offset))


def write_canonical(out: BinaryIO, members: Iterable[tuple[str, bytes]]) -> None:
    """A canonical zip of in-memory members, in the order given (tests, small files)."""
    writer = CanonicalZipWriter(out)
    for name, data in members:
        writer.add_bytes(name, data)
    writer.close()


def _exactly(fh: BinaryIO, n: int, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise ZipLayoutError(f"file ends inside {what}")
    return data


def read_canonical(fh: BinaryIO, file_size: int, *, max_members: int = MAX_MEMBERS,
                   keep: frozenset[str] = frozenset(), keep_max: int = 1 << 22
                   ) -> tuple[list[Member], dict[str, bytes]]:
    """Every member of a canonical zip, in order, with its size and sha256; and the contents of the
    members named in ``keep`` (each at most ``keep_max`` bytes). The file is read once, front to back:
    local headers are re-derived from what they announce and must be canonical, the central directory
    and end record must be exactly those the members imply, and the file must end there.
    :class:`ZipLayoutError` names the first deviation."""
    if file_size > MAX_ZIP_BYTES:
        raise ZipLayoutError(f"file of {file_size:,} bytes is larger than a case file can be")
    members: list[Member] = []
    kept: dict[str, bytes] = {}
    entries: list[tuple[bytes, int, int, int]] = []
    offset = 0
    while True:
        head = _exactly(fh, 4, "a header")
        if struct.unpack("<I", head)[0] != LOCAL_SIG:
            break
        if len(members) >= max_members:
            raise ZipLayoutError(f"more than {max_members:,} members")
        fields = _LOCAL.unpack(head + _exactly(fh, _LOCAL.size - 4, f"the header at byte {offset}"))
        name_len, size = fields[9], fields[8]
        if fields[:6] + (fields[7], fields[10]) != (LOCAL_SIG, VERSION, UTF8_FLAG, 0, 0, DOS_DATE, size, 0):
            raise ZipLayoutError(f"header at byte {offset} is not the canonical one (compressed, dated or extended)")
        if name_len > MAX_NAME_BYTES or offset + _LOCAL.size + name_len + size > file_size:
            raise ZipLayoutError(f"the member at byte {offset} announces more than the file holds")
        raw = _exactly(fh, name_len, "a member name")
        try:
            name = check_name(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ZipLayoutError(f"member name at byte {offset} is not UTF-8") from None
        if _LOCAL.pack(*fields) + raw != _local(raw, fields[6], size):
            raise ZipLayoutError(f"header of {name!r} is not the canonical one (compressed, dated or extended)")
        if any(m.name == name for m in members):
            raise ZipLayoutError(f"member {name!r} twice")
        crc, digest, left, chunks = 0, hashlib.sha256(), size, []
        while left:
            block = _exactly(fh, min(BLOCK, left), f"member {name!r}")
            crc, left = zlib.crc32(block, crc), left - len(block)
            digest.update(block)
            if name in keep and size <= keep_max:
                chunks.append(block)
        if crc != fields[6]:
            raise ZipLayoutError(f"CRC of {name!r} does not match its content")
        if name in keep:
            if size > keep_max:
                raise ZipLayoutError(f"{name} is larger than {keep_max:,} bytes")
            kept[name] = b"".join(chunks)
        members.append(Member(name, size, digest.hexdigest()))
        entries.append((raw, crc, size, offset))
        offset += _LOCAL.size + name_len + size
    directory = b"".join(_central(*entry) for entry in entries)
    tail = directory + _end(len(entries), len(directory), offset)
    if file_size != offset + len(tail):
        raise ZipLayoutError("central directory or end record is not the one the members imply "
                             f"(file of {file_size:,} bytes, {offset + len(tail):,} expected)")
    if head + _exactly(fh, len(tail) - 4, "the central directory") != tail:
        raise ZipLayoutError("central directory or end record is not the one the members imply")
    if fh.read(1):
        raise ZipLayoutError("bytes after the end record")
    return members, kept
