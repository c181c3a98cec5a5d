"""The video store: which segments exist for a counter, and opening one as a binary file.

Layout: ``<root>/<pharmacy_id>/<counter_id>/<YYYYMMDD>T<HHMMSS><+HHMM>.mp4``; the name gives the
segment's start on the camera clock. Segments may have any length and gaps between them.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from rxaudit.domain import Segment
from rxaudit.errors import FootageMissing, StoreError

SEGMENT_NAME = re.compile(r"^(\d{8}T\d{6})([+-]\d{4})\.(mp4|mkv|ts)$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_segment_name(name: str) -> datetime | None:
    """Start time from a segment file name, or None when the name is not a segment name."""
    match = SEGMENT_NAME.match(name)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1) + match.group(2), "%Y%m%dT%H%M%S%z")
    except ValueError:
        return None


def segment_name(start: datetime, ext: str = "mp4") -> str:
    return start.strftime("%Y%m%dT%H%M%S%z") + "." + ext


def candidates(segments: list[Segment], start: datetime, end: datetime) -> list[Segment]:
    """Segments that may hold frames in [start, end]: those starting inside it, plus the last one
    starting before it (its length is only known once decoded)."""
    ordered = sorted(segments, key=lambda s: s.start)
    before = [s for s in ordered if s.start <= start]
    inside = [s for s in ordered if start < s.start <= end]
    return before[-1:] + inside


class VideoStore(Protocol):
    """Where counter video lives. Implementations: a local directory (here), object stores later."""

    def has_counter(self, pharmacy_id: str, counter_id: str) -> bool: ...

    def list_segments(self, pharmacy_id: str, counter_id: str) -> list[Segment]: ...

    def open(self, uri: str) -> BinaryIO: ...


def check_id(kind: str, value: str) -> str:
    if not _SAFE_ID.match(value) or value in {".", ".."}:
        raise StoreError(f"{kind} {value!r} is not a safe store name")
    return value


class LocalVideoStore:
    """A directory in the layout above. URIs are store-relative POSIX paths; none escapes the root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise StoreError(f"video store {root} is not a directory")

    def resolve(self, uri: str) -> Path:
        rel = PurePosixPath(uri)
        if rel.is_absolute() or ".." in rel.parts:
            raise StoreError(f"path {uri!r} escapes the video store")
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise StoreError(f"path {uri!r} escapes the video store")
        return path

    def _counter_dir(self, pharmacy_id: str, counter_id: str) -> Path:
        return self.root / check_id("pharmacy_id", pharmacy_id) / check_id("counter_id", counter_id)

    def has_counter(self, pharmacy_id: str, counter_id: str) -> bool:
        try:
            return self._counter_dir(pharmacy_id, counter_id).is_dir()
        except StoreError:
            return False

    def list_segments(self, pharmacy_id: str, counter_id: str) -> list[Segment]:
        folder = self._counter_dir(pharmacy_id, counter_id)
        if not folder.is_dir():
            return []
        segments = []
        for path in folder.iterdir():
            start = parse_segment_name(path.name)
            if start is not None and path.is_file():
                uri = f"{pharmacy_id}/{counter_id}/{path.name}"
                segments.append(Segment(pharmacy_id, counter_id, start, uri))
        return sorted(segments, key=lambda s: s.start)

    def open(self, uri: str) -> BinaryIO:
        path = self.resolve(uri)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise FootageMissing(f"segment {uri} is missing from the store") from exc
