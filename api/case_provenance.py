"""Where a case file's video comes from: the camera (its pharmacy and counter), the clock offset that was
applied, and the original segment files the clip was cut from, by name with their size and sha256.

The clip in a case file is a re-encoded copy (H.264, at most 15 fps) of the window around the swipe;
the segments are the originals the store holds, which the recipient can obtain and hash. Hashing is
bounded: at most ``SEGMENTS_MAX`` segments a flag, ``SEGMENT_BYTES_MAX`` bytes each and the export's
deadline; a segment past a bound is named with why it was not hashed, never silently left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from api.catalogs import N_
from database.models import AuditRun, CheckRow
from database.queries import FlagView
from ingest.stores import open_store
from ingest.video_store import candidates
from rxaudit.errors import RxauditError
from rxaudit.settings import Settings

SEGMENTS_MAX = 4  # a 20 s clip spans one or two segments
SEGMENT_BYTES_MAX = 2 << 30  # an hour of 4 Mbit/s footage is ~1.8 GB
BLOCK = 1 << 20
TOO_LARGE = N_("not hashed: larger than %(limit)s GB")
NO_TIME = N_("not hashed: the export's time ran out")
UNREADABLE = N_("not hashed: the store could not read it")
TOO_MANY = N_("not hashed: more than %(limit)d segments")
STORE_PROBLEM = N_("the video store could not be listed; the source segments are not named")


@dataclass
class SourceSegment:
    name: str
    start: str  # camera time, as the name says
    size: int | None = None
    sha256: str | None = None
    problem: str | None = None  # why there is no sha256 (a text for the catalogs)
    problem_params: dict[str, object] = field(default_factory=dict)


@dataclass
class Provenance:
    camera_id: str  # <pharmacy_id>/<counter_id>: the store folder and the cameras.yaml entry
    camera_time: str | None = None  # the swipe on the camera's clock (ISO 8601)
    clock_offset_s: float | None = None  # camera clock minus settlement time, as applied
    segments: list[SourceSegment] = field(default_factory=list)
    store_problem: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"camera_id": self.camera_id, "camera_time": self.camera_time,
                "clock_offset_s": self.clock_offset_s, "store_problem": self.store_problem,
                "source_segments": [{"name": s.name, "start": s.start, "size": s.size, "sha256": s.sha256,
                                     "not_hashed": s.problem % s.problem_params if s.problem else None}
                                    for s in self.segments]}


def _hash(store, uri: str, time_left: Callable[[], float]) -> tuple[int, str | None, str | None]:
    """(bytes read, sha256 or None, why not)."""
    digest, size = hashlib.sha256(), 0
    with store.open(uri) as fh:
        while block := fh.read(BLOCK):
            size += len(block)
            if size > SEGMENT_BYTES_MAX:
                return size, None, TOO_LARGE
            if time_left() <= 0:
                return size, None, NO_TIME
            digest.update(block)
    return size, digest.hexdigest(), None


def provenance(session: Session, settings: Settings, view: FlagView,
               time_left: Callable[[], float]) -> Provenance:
    """The flag's camera, offset and source segments (hashed within ``time_left()`` seconds)."""
    s = view.settlement
    found = Provenance(f"{s.pharmacy_id}/{s.counter_id}")
    check = session.get(CheckRow, s.settlement_id)
    if check is None or "camera_time" not in (check.seen or {}):
        return found
    swipe = datetime.fromisoformat(check.seen["camera_time"])
    found.camera_time = swipe.isoformat()
    found.clock_offset_s = round((swipe - s.settled_at).total_seconds(), 3)
    run = session.get(AuditRun, check.run_id)
    try:
        store = open_store(run.videos, settings)
        segments = candidates(store.list_segments(s.pharmacy_id, s.counter_id),
                              swipe - timedelta(seconds=settings.clip_before_s),
                              swipe + timedelta(seconds=settings.clip_after_s))
    except (RxauditError, OSError, AttributeError):
        found.store_problem = STORE_PROBLEM
        return found
    for k, segment in enumerate(segments):
        item = SourceSegment(segment.uri.rsplit("/", 1)[-1], segment.start.isoformat())
        found.segments.append(item)
        if k >= SEGMENTS_MAX:
            item.problem, item.problem_params = TOO_MANY, {"limit": SEGMENTS_MAX}
            continue
        try:
            item.size, item.sha256, item.problem = _hash(store, segment.uri, time_left)
        except (RxauditError, OSError):
            item.problem = UNREADABLE
        if item.problem is not None:
            item.size, item.problem_params = None, {"limit": SEGMENT_BYTES_MAX >> 30}
    return found
