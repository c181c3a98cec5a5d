"""Whether a settlement's footage is in the store yet (issue 28): the recorder moves a segment into the
store only once it is complete, and a segment's name gives its start on the camera clock, so footage
through camera time T is there when a segment starting at or after T is listed, or when the last
segment listed (its length read from its container, once per segment) reaches T."""

from __future__ import annotations

from datetime import datetime, timedelta

import av

from ingest.video_store import VideoStore
from rxaudit.domain import Segment

LENGTHS_MAX = 10_000  # segment lengths remembered (one per counter's latest segment is what counts)


class FootageWatch:
    def __init__(self, store: VideoStore) -> None:
        self.store = store
        self._lengths: dict[str, float | None] = {}

    def length_s(self, segment: Segment) -> float | None:
        """The segment's length in seconds, from its container (None: unreadable)."""
        if segment.uri not in self._lengths:
            if len(self._lengths) >= LENGTHS_MAX:
                self._lengths.clear()
            self._lengths[segment.uri] = _probe(self.store, segment)
        return self._lengths[segment.uri]

    def recorded_through(self, pharmacy_id: str, counter_id: str, until: datetime) -> bool:
        """Footage through camera time ``until`` is in the store (or never will be: a later segment exists)."""
        if not self.store.has_counter(pharmacy_id, counter_id):
            return False
        segments = self.store.list_segments(pharmacy_id, counter_id)
        if not segments:
            return False
        last = segments[-1]
        if last.start >= until:
            return True
        length = self.length_s(last)
        # an unreadable segment is complete too (the recorder moves only whole ones): the audit names it
        return length is None or last.start + timedelta(seconds=length) >= until


def _probe(store: VideoStore, segment: Segment) -> float | None:
    try:
        with store.open(segment.uri) as fh, av.open(fh, mode="r") as container:
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
    except Exception:  # noqa: BLE001 - an unreadable segment is judged by the audit (unverifiable, named)
        return None
    return None
