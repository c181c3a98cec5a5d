"""``rxaudit live``: one settlement at a time from the live inbox (issue 28), as batch audits it.

Each claimed settlement waits until its counter's footage through ``swipe + window_after_s`` is in
the store (:mod:`audit.live_footage`); after ``live_max_wait_s`` without it, it is unverifiable
(footage not recorded, the recorder's gap named when it logged one). Then phase 1 runs the batch's
counter audit (:class:`audit.counter_audit.CounterAuditor`) on the settlement *with its chain*: the
counter's stored swipes whose windows join its own (``bridge_gap_s``), as batch joins them into one
decoded span, up to ``live_chain_s`` either side. The tracker starts where batch's does, so a customer
paying with several cards stays one visit (card pooling) and is the visit batch sees. Phase 2
(:mod:`audit.live_rules`) runs its own rules and those that look across settlements over the stored
history, in one transaction that saves the outcome (idempotent on settlement id and kind, as batch),
adds flags to earlier settlements, and marks the inbox row done; the wall's event stream
(``database.feed``) then carries the flags.

Live equals batch (``rxaudit audit`` afterwards on the same settlements and footage) in the flags'
kinds and settlements, each check's status and visit (the footfall counts), where: the footage was
in the store within ``live_max_wait_s``; no customer stays at a counter, through the swipes joined
with theirs, longer than ``live_chain_s`` (live decodes from there, batch from the joined span's
start: a visit in progress at live's start begins later, and its swipes' visit keys differ); and a
visit's face identity, averaged over the frames decoded so far, matches as it does in batch (batch
may decode a visit further, past a later swipe, and average more faces). Not equal by design: clock
health (a suspect camera clock lowers no_customer scores) is judged on the counter-day's swipes
audited so far, batch on the whole day, so flags made before the day turned suspect keep their
score; reasons of flags added to earlier settlements are worded as batch's cross-audit ones (``the
same card was settled too soon after or before, at …``); a chained swipe audited again keeps its
first check (flags are only added); the unverifiable reason says "footage not recorded" where batch
names what it found (no footage around the swipe, an unknown counter). ``tests/audit/
test_live_equals_batch.py`` checks the equalities, and that scores differ only by clock health, on a
sample bundle fed in time order, and the equalities with the day's backlog shared by two workers.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from audit import footage_index, persist
from audit.counter_audit import CounterAuditor, Models, load_models, merge_windows
from audit.live_footage import FootageWatch
from audit.live_rules import judge
from database import cameras as cameras_db
from database import live_history, live_queue, repository
from database import records as records_db
from database.engine import transaction
from database.live_queue import Claimed
from ingest.cameras import CamerasConfig
from ingest.video_store import VideoStore
from reconcile.clock_health import ClockOptions
from reconcile.context import AuditContext, RuleConfig, SettlementFootage
from reconcile.rules import card_conflict
from rxaudit.domain import Settlement
from rxaudit.records import Records
from rxaudit.settings import Settings
from vision.detection_memo import memo_stats, remembering

log = logging.getLogger("rxaudit.live")


class LiveAuditor:
    """One worker's audit of claimed settlements; the models load once, at the first footage."""

    def __init__(self, settings: Settings, cameras: CamerasConfig, store: VideoStore,
                 factory: sessionmaker[Session], *, run_id: int, models: Models | None = None) -> None:
        self.settings, self.store, self.factory, self.run_id = settings, store, factory, run_id
        self.cameras = footage_index.cached_cameras(cameras)
        self.config = RuleConfig.from_settings(settings)
        self.watch = FootageWatch(store)
        self.clock = ClockOptions.from_settings(settings)
        self.models = models
        self._auditor: CounterAuditor | None = None
        self.stats: Counter[str] = Counter()  # settled, chained (swipes decoded again), save_s

    def counter_auditor(self) -> CounterAuditor:
        if self._auditor is None:
            if self.models is None:
                self.models = load_models(self.settings)
            # a chain decodes its neighbours' frames again: the models answer each frame once
            self.models = remembering(self.models, self.settings.live_memo_frames)
            self._auditor = CounterAuditor(self.settings, self.cameras, self.store, self.models,
                                           Path(self.settings.evidence_dir))
        return self._auditor

    def camera_time(self, s: Settlement) -> datetime:
        return self.cameras.camera_time(s.pharmacy_id, s.counter_id, s.settled_at)

    def needed_until(self, s: Settlement) -> datetime:
        """The camera time the store must hold footage through: the swipe's window end."""
        return self.camera_time(s) + timedelta(seconds=self.settings.window_after_s)

    def ready(self, s: Settlement) -> bool:
        return self.watch.recorded_through(s.pharmacy_id, s.counter_id, self.needed_until(s))

    def _window(self) -> tuple[timedelta, timedelta]:
        """Before and after a swipe, as the counter audit decodes them."""
        before = self.settings.window_before_s
        if self.settings.detect_objects:
            before += self.settings.goods_arrival_lookback_s
        return timedelta(seconds=before), timedelta(seconds=self.settings.window_after_s)

    def chain(self, session: Session, s: Settlement) -> list[Settlement]:
        """``s`` and the counter's stored swipes whose windows join its own (as batch merges them),
        within ``live_chain_s`` of it, in time order."""
        reach = timedelta(seconds=self.settings.live_chain_s)
        stored = live_history.settlements(session, start=s.settled_at - reach, end=s.settled_at + reach,
                                          pharmacy_id=s.pharmacy_id, counter_id=s.counter_id)
        members = {x.settlement_id: x for x in stored if x.settlement_id != s.settlement_id}
        members[s.settlement_id] = s
        if not self.settings.merge_windows:
            return [s]
        before, after = self._window()
        at = {sid: self.camera_time(x) for sid, x in members.items()}
        spans = merge_windows([(t - before, t + after) for t in at.values()], self.settings.bridge_gap_s)
        mine = at[s.settlement_id]
        lo, hi = next((a, b) for a, b in spans if a <= mine <= b)
        return sorted((x for sid, x in members.items() if lo <= at[sid] <= hi),
                      key=lambda x: (x.settled_at, x.settlement_id))

    def local(self, s: Settlement) -> Settlement:
        """The settlement with its time in its pharmacy's zone (the inbox gives it back in UTC; batch
        reads the log's own offset): reasons name clock times as batch's do."""
        return replace(s, settled_at=s.settled_at.astimezone(self.cameras.business_hours(s.pharmacy_id)[2]))

    def settle(self, claimed: Claimed, *, unverifiable: str | None = None, missing: bool = False) -> str:
        """Audit and save one claimed settlement, mark it done; returns its status. ``unverifiable``:
        judge it without footage, for this reason (attempts spent; ``missing``: footage not recorded,
        the recorder's gap named where it logged one)."""
        s = self.local(claimed.settlement)
        if unverifiable is not None:
            chain = [s]
            t = self.camera_time(s)
            footage = {s.settlement_id: SettlementFootage(s.settlement_id, t, unverifiable, None,
                                                          {"camera_time": t.isoformat()})}
        else:
            with self.factory() as session:
                chain = [self.local(x) for x in self.chain(session, s)]
            made = self.counter_auditor().summaries(s.counter_key, chain)
            footage = {f.settlement_id: f for f in made}
        started = time.perf_counter()
        with transaction(self.factory) as session:
            live_queue.lock(session, live_queue.RULES_LOCK)  # cross-counter patterns see each other
            ctx = self._context(session, s, chain, footage)
            if missing and ctx.unverifiable_reason(s) == unverifiable:  # the recorder logged no gap there
                footage[s.settlement_id] = replace(footage[s.settlement_id],
                                                   unverifiable=f"footage not recorded: {unverifiable}")
            judged = judge(session, s, chain, ctx, self.clock)
            result = judged.result
            repository.save_results(session, run_id=self.run_id, results=[result],
                                    keep_faces=self.settings.face_retention_days > 0)
            records_db.save_trace_codes(session, settlements=[s])
            records_db.flag_earlier_reuse(session, settlements=[s], earlier=ctx.records.earlier_codes)
            records_db.flag_earlier_conflicts(session, flagged=persist.Tally().add([result]).earlier_conflicts)
            added = live_history.add_flags(session, flags=judged.earlier)
            live_queue.complete(session, settlement_id=s.settlement_id, outcome=str(result.status))
        saved_s = time.perf_counter() - started
        self.stats["settled"] += 1
        self.stats["chained"] += len(chain) - 1
        self.stats["save_s"] += saved_s
        log.info("settlement %s: %s%s%s (%d swipe(s) decoded with it%s; rules and save %.3f s)", s.settlement_id,
                 result.status, "".join(f" {f.kind}" for f in result.flags),
                 f"; {len(added)} flag(s) added to earlier settlements" if added else "", len(chain) - 1,
                 _memo_note(self.models), saved_s)
        return str(result.status)

    def _context(self, session: Session, s: Settlement, chain: Sequence[Settlement],
                 footage: dict[str, SettlementFootage]) -> AuditContext:
        ctx = AuditContext(config=self.config, cameras=self.cameras, footage=footage)
        locations = records_db.locations(session)
        zone = self.cameras.business_hours  # stored times come back in UTC: named in the pharmacy's zone
        codes = {code: tuple(replace(c, settled_at=c.settled_at.astimezone(zone(c.pharmacy_id)[2])) for c in sales)
                 for code, sales in records_db.earlier_codes(session, settlements=[s]).items()}
        ctx.records = Records(
            locations=locations, earlier_codes=codes,
            earlier_cards=records_db.earlier_card_sales(
                session, settlements=[s], horizon_s=card_conflict.horizon(self.config, locations)))
        windows: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        for x in chain:  # as batch reads the recorder's log: the swipes' camera times, widened
            t, pad = ctx.camera_time(x), ctx.clock_tolerance(x) + timedelta(minutes=1)
            lo, hi = windows.get(x.counter_key, (t - pad, t + pad))
            windows[x.counter_key] = (min(lo, t - pad), max(hi, t + pad))
        ctx.camera_log = cameras_db.camera_log(session, windows=windows)
        return ctx


def _memo_note(models: Models | None) -> str:
    """The remembering models' hits so far ("; memo persons 120/300 ..."), for the log."""
    stats = memo_stats(models) if models is not None else {}
    return "".join(f"; memo {name} {v['hits']}/{v['hits'] + v['misses']}" for name, v in stats.items())
