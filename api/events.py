"""The live flag feed behind ``/api/v1/events``: one poller per event loop fans new flags out to
every open stream.

- One poll every ``sse_poll_s``: flags with ``id > head`` in id order, in batches until caught up,
  plus one check of the credentials behind the open streams (a revoked key or a signed-out session
  ends its stream). The poll runs in a worker thread with a short-lived session; an open stream
  holds no database connection and no thread, only a coroutine and a queue.
- Ids are handed out at insert but may commit out of order (two writers on PostgreSQL): past a gap
  in the ids the poller waits up to ``GAP_GRACE_S`` for the missing ones before it moves on (they
  were rolled back or deleted), so a late commit is not skipped.
- Each subscriber filters the shared events by its own districts in memory.
- A stream that starts behind the head (``after_id`` / ``Last-Event-ID``) first replays the gap from
  the database in id-ordered batches (at most ``REPLAY_SLOTS`` replays at once), then goes live:
  every flag exactly once, in id order.
- ``event: verdict`` (no ``id:``) when a flag's review status changes: verdicts by id, each once
  (``api.verdict_events``), to the subscribers that see the flag's district.
- A subscriber whose queue grows past ``max_queue`` (a client that does not read) is ended; its
  EventSource reconnects with ``Last-Event-ID`` and replays what it missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from api.schemas import FlagOut
from api.verdict_events import VerdictCursor, VerdictEvent
from database import feed, verdict_feed
from database.queries import FlagView
from rxaudit.security import Principal

log = logging.getLogger(__name__)

BATCH = 500  # flags per query
MAX_BATCHES_PER_POLL = 20  # then fan out and poll again at once
REPLAY_SLOTS = 4  # concurrent catch-up replays (the rest wait; the API stays responsive)
KEEPALIVE_S = 15.0
GAP_GRACE_S = 10.0  # how long a gap in the flag ids holds back the flags after it


@dataclass(frozen=True)
class Credential:
    """What proves a stream's right to exist: ``("apikey", key id)`` or ``("session", token digest)``."""

    kind: str
    ref: str


@dataclass(frozen=True)
class FlagEvent:
    id: int
    district: str | None
    data: str  # the flag as JSON (FlagOut), serialised once for every subscriber

    @classmethod
    def of(cls, view: FlagView, tz: ZoneInfo | None = None) -> FlagEvent:
        data = json.dumps(FlagOut.of(view, tz).model_dump(mode="json"), ensure_ascii=False)
        return cls(view.flag.id, view.district, data)

    def frame(self) -> str:
        return f"id: {self.id}\nevent: flag\ndata: {self.data}\n\n"


@dataclass(frozen=True)
class Ended:
    reason: str

    def frame(self) -> str:
        return f"event: end\ndata: {json.dumps({'reason': self.reason})}\n\n"


class Subscriber:
    """One open stream. Events with ``id <= live_from`` come from the replay, later ones from the
    poller through ``queue``."""

    def __init__(self, principal: Principal, credential: Credential, start: int, live_from: int,
                 max_queue: int) -> None:
        self.principal, self.credential = principal, credential
        self.start, self.live_from = start, live_from
        self.max_queue = max_queue
        self.queue: asyncio.Queue[FlagEvent | VerdictEvent | Ended] = asyncio.Queue()
        self.ended: Ended | None = None

    def offer(self, event: FlagEvent | VerdictEvent) -> None:
        if self.ended is not None or not self.principal.sees(event.district):
            return
        if isinstance(event, FlagEvent) and event.id <= self.live_from:
            return
        if self.queue.qsize() >= self.max_queue:
            self.end("too far behind; reconnect to catch up")
            return
        self.queue.put_nowait(event)

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = Ended(reason)
            self.queue.put_nowait(self.ended)


class Broadcaster:
    """The poller and its subscribers, for one event loop. Starts with the first subscriber and
    stops when the last one leaves (the head is re-read at the next start)."""

    def __init__(self, factory: sessionmaker[Session], *, poll_s: float, max_queue: int = 10_000,
                 tz: ZoneInfo | None = None) -> None:
        self.factory, self.poll_s, self.max_queue, self.tz = factory, poll_s, max_queue, tz
        self.head = 0
        self.verdicts = VerdictCursor(0, grace_s=GAP_GRACE_S)  # event: verdict, after the newest at start
        self.subscribers: set[Subscriber] = set()
        self.polls = 0
        self._gap: tuple[int, float] | None = None  # (first missing id, since when)
        self._task: asyncio.Task | None = None
        self._start_lock = asyncio.Lock()
        self._replays = asyncio.Semaphore(REPLAY_SLOTS)

    async def subscribe(self, principal: Principal, credential: Credential,
                        after_id: int | None) -> Subscriber:
        if self._task is None:
            async with self._start_lock:
                if self._task is None:
                    self.head = await to_thread.run_sync(self._read, feed.newest_flag_id)
                    self.verdicts = VerdictCursor(await to_thread.run_sync(
                        self._read, verdict_feed.newest_verdict_id), grace_s=GAP_GRACE_S)
                    self._gap = None
                    self._task = asyncio.get_running_loop().create_task(self._run())
        # no await from here until the subscriber is registered: nothing above head is missed
        start = self.head if after_id is None else after_id
        sub = Subscriber(principal, credential, start, max(start, self.head), self.max_queue)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers and self._task is not None:
            self._task.cancel()
            self._task = None

    def _read(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        with self.factory() as session:
            return fn(session, **kwargs)

    def _poll(self, head: int, credentials: set[Credential], verdicts_after: int = 0
              ) -> tuple[list[FlagEvent], set[Credential], bool, list[verdict_feed.VerdictChange]]:
        """(new events in id order, the live credentials among ``credentials``, more waiting,
        verdicts with ids above ``verdicts_after``)."""
        events: list[FlagEvent] = []
        with self.factory() as session:
            changes = verdict_feed.verdicts_after(session, after_id=verdicts_after, limit=BATCH)
            for _ in range(MAX_BATCHES_PER_POLL):
                views = feed.flags_after(session, after_id=head, limit=BATCH)
                events.extend(FlagEvent.of(v, self.tz) for v in views)
                if views:
                    head = views[-1].flag.id
                if len(views) < BATCH:
                    break
            more = len(views) == BATCH
            keys, sessions = feed.live_credentials(
                session, key_ids=[int(c.ref) for c in credentials if c.kind == "apikey"],
                session_hashes=[c.ref for c in credentials if c.kind == "session"])
        live = {c for c in credentials if (c.kind == "apikey" and int(c.ref) in keys)
                or (c.kind == "session" and c.ref in sessions)}
        return events, live, more, changes

    def _settled(self, events: list[FlagEvent]) -> list[FlagEvent]:
        """The events to deliver now: those up to the first gap in the ids after ``head``; past a
        gap, all of them once it has stayed open ``GAP_GRACE_S``."""
        expected = self.head + 1
        for k, event in enumerate(events):
            if event.id != expected:
                break
            expected += 1
        else:
            self._gap = None
            return events
        now = time.monotonic()
        if self._gap is None or self._gap[0] != expected:
            self._gap = (expected, now)
        if now - self._gap[1] >= GAP_GRACE_S:
            self._gap = None
            return events
        return events[:k]

    async def _run(self) -> None:
        while True:
            more = False
            try:
                credentials = {s.credential for s in self.subscribers}
                events, live, more, changes = await to_thread.run_sync(
                    self._poll, self.head, credentials, self.verdicts.floor)
                self.polls += 1
                fetched = len(events)
                events = self._settled(events)
                more = more and len(events) == fetched
                # synchronous from here: subscribers joining meanwhile see a consistent head
                for sub in list(self.subscribers):
                    if sub.credential in credentials and sub.credential not in live:
                        sub.end("credential revoked or signed out")
                if events:
                    self.head = events[-1].id
                    for sub in list(self.subscribers):
                        for event in events:
                            sub.offer(event)
                verdicts = [VerdictEvent.of(c, self.tz) for c in self.verdicts.take(changes, time.monotonic())]
                for sub in list(self.subscribers):  # after the flags: a new flag's verdict follows it
                    for verdict in verdicts:
                        sub.offer(verdict)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed poll (database away) is retried, streams stay
                log.exception("SSE poll failed; retrying in %.1f s", self.poll_s)
            if not more:
                await asyncio.sleep(self.poll_s)

    async def stream(self, principal: Principal, credential: Credential, after_id: int | None, *,
                     max_s: float, keepalive_s: float = KEEPALIVE_S) -> AsyncIterator[str]:
        """The SSE text of one subscriber: replay, then live events, keep-alives, and an ``end``
        event when its credential goes or it falls too far behind; returns after ``max_s``."""
        deadline = time.monotonic() + max_s
        sub = await self.subscribe(principal, credential, after_id)
        try:
            yield "retry: 3000\n\n"
            cursor = sub.start
            while cursor < sub.live_from and sub.ended is None and time.monotonic() < deadline:
                async with self._replays:
                    views = await to_thread.run_sync(
                        lambda: self._read(feed.flags_after, after_id=cursor, upto=sub.live_from,
                                           limit=BATCH, principal=sub.principal))
                if views:
                    yield "".join(FlagEvent.of(v, self.tz).frame() for v in views)
                if len(views) < BATCH:
                    break
                cursor = views[-1].flag.id
            while (left := deadline - time.monotonic()) > 0:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), min(keepalive_s, left))
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                items = [item]
                while not sub.queue.empty() and not isinstance(items[-1], Ended):
                    items.append(sub.queue.get_nowait())
                yield "".join(i.frame() for i in items)
                if isinstance(items[-1], Ended):
                    return
        finally:
            self.unsubscribe(sub)


class Broadcasters:
    """One broadcaster per running event loop (uvicorn has one; test clients may run several)."""

    def __init__(self, factory: sessionmaker[Session], *, poll_s: float, tz: ZoneInfo | None = None) -> None:
        self.factory, self.poll_s, self.tz = factory, poll_s, tz
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Broadcaster] = \
            weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    def current(self) -> Broadcaster:
        loop = asyncio.get_running_loop()
        with self._guard:
            if loop not in self._by_loop:
                self._by_loop[loop] = Broadcaster(self.factory, poll_s=self.poll_s, tz=self.tz)
            return self._by_loop[loop]
