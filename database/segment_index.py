"""A store wrapper that keeps each counter's segment listing in the database.

The first batch over a day lists each counter folder once; later batches read the cached index.
A counter is listed again only when a settlement lies after the last listing (new segments may have
been written since), and then only that counter."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ingest.video_store import VideoStore
from database.models import SegmentEntry, SegmentListing, utcnow
from rxaudit.domain import Segment


class IndexedVideoStore:
    def __init__(self, inner: VideoStore, factory: sessionmaker[Session], location: str) -> None:
        self.inner, self.factory, self.location = inner, factory, location
        self.listings = 0  # how often the store itself was listed (for tests and the note)

    def _cached(self, session: Session, pharmacy_id: str, counter_id: str,
                needed_until: datetime | None) -> SegmentListing | None:
        listing = session.get(SegmentListing, (self.location, pharmacy_id, counter_id))
        if listing is None:
            return None
        if needed_until is not None and listing.listed_at < needed_until + timedelta(minutes=5):
            return None  # listed before footage we need could have been written
        return listing

    def refresh(self, pharmacy_id: str, counter_id: str, needed_until: datetime | None = None) -> None:
        with self.factory() as session, session.begin():
            if self._cached(session, pharmacy_id, counter_id, needed_until) is not None:
                return
            self.listings += 1
            exists = self.inner.has_counter(pharmacy_id, counter_id)
            segments = self.inner.list_segments(pharmacy_id, counter_id) if exists else []
            known = set(session.scalars(select(SegmentEntry.name).where(
                SegmentEntry.store == self.location, SegmentEntry.pharmacy_id == pharmacy_id,
                SegmentEntry.counter_id == counter_id)))
            for seg in segments:
                name = seg.uri.rsplit("/", 1)[-1]
                if name not in known:  # incremental: only new segments are added
                    session.add(SegmentEntry(store=self.location, pharmacy_id=pharmacy_id,
                                             counter_id=counter_id, name=name, start=seg.start))
            listing = session.get(SegmentListing, (self.location, pharmacy_id, counter_id))
            if listing is None:
                session.add(SegmentListing(store=self.location, pharmacy_id=pharmacy_id,
                                           counter_id=counter_id, listed_at=utcnow(), exists=exists))
            else:
                listing.listed_at, listing.exists = utcnow(), exists

    def has_counter(self, pharmacy_id: str, counter_id: str) -> bool:
        self.refresh(pharmacy_id, counter_id)
        with self.factory() as session:
            listing = session.get(SegmentListing, (self.location, pharmacy_id, counter_id))
            return bool(listing and listing.exists)

    def list_segments(self, pharmacy_id: str, counter_id: str) -> list[Segment]:
        self.refresh(pharmacy_id, counter_id)
        with self.factory() as session:
            rows = session.scalars(select(SegmentEntry).where(
                SegmentEntry.store == self.location, SegmentEntry.pharmacy_id == pharmacy_id,
                SegmentEntry.counter_id == counter_id).order_by(SegmentEntry.start))
            return [Segment(pharmacy_id, counter_id, r.start, f"{pharmacy_id}/{counter_id}/{r.name}")
                    for r in rows]

    def open(self, uri: str) -> BinaryIO:
        return self.inner.open(uri)
