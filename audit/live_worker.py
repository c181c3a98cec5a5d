"""The live workers' loop and its supervision (issue 28).

A worker claims due rows (:mod:`database.live_queue`), audits each whose footage is in the store
(:class:`audit.live.LiveAuditor`), gives back those still waiting for it, finishes as unverifiable
those waiting past ``live_max_wait_s`` and those claimed ``live_max_attempts`` times already (a
settlement that fails or kills its worker every time is never retried forever), and renews its
leases from a heartbeat thread while it works. The backlog's share of claims is spread evenly
(``live_backlog_share``: with 0.25, one row in four from the oldest backlog while live rows wait).

Supervision: :func:`supervise` runs the loop until stopped and restarts it after a crash, waiting 1,
2, 4 … 60 s; the models stay loaded across restarts (once per worker process). :func:`run_workers`
runs N such processes and restarts one that dies; SIGTERM or SIGINT stops them all cleanly (each
finishes the settlement in hand; rows claimed and not started are given back at once).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import threading
from datetime import timedelta

from sqlalchemy import update

from audit.live import LiveAuditor
from database import live_queue, repository
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import LiveSettlement, utcnow
from database.live_queue import Claimed
from database import aggregates
from ingest.cameras import load_cameras
from ingest.stores import open_store, store_location
from rxaudit.errors import ConfigError
from rxaudit.settings import Settings

log = logging.getLogger("rxaudit.live")
BACKOFF_MAX_S = 60.0


class Worker:
    def __init__(self, auditor: LiveAuditor, factory, settings: Settings, name: str, stop) -> None:
        self.auditor, self.factory, self.settings, self.name, self.stop = auditor, factory, settings, name, stop
        self.holding: set[str] = set()
        self.claims = 0
        self.done = 0

    def backlog_n(self, limit: int) -> int:
        """This claim's backlog rows: the share spread evenly over the claims (a running total)."""
        share = self.settings.live_backlog_share
        n = math.floor((self.claims + 1) * share * limit) - math.floor(self.claims * share * limit)
        self.claims += 1
        return n

    def run(self, *, until_idle: bool = False) -> None:
        """Work until stopped (``until_idle``: also once nothing can be claimed and nothing is held)."""
        beat = threading.Thread(target=self._heartbeat, name=f"{self.name}-lease", daemon=True)
        beat.start()
        while not self.stop.is_set():
            limit = self.settings.live_batch
            with transaction(self.factory) as session:
                got = live_queue.claim(session, worker=self.name, limit=limit, lease_s=self.settings.live_lease_s,
                                       live_lane_s=self.settings.live_lane_s, backlog_n=self.backlog_n(limit))
            self.holding.update(c.settlement.settlement_id for c in got)
            for i, c in enumerate(got):
                if self.stop.is_set():
                    self._give_back(got[i:])
                    break
                self.handle(c)
            if not got:
                if until_idle and self._idle():
                    return
                self.stop.wait(self.settings.live_poll_s)

    def handle(self, c: Claimed) -> None:
        s, now = c.settlement, utcnow()
        sid = s.settlement_id
        try:
            if c.attempts > self.settings.live_max_attempts:
                self.auditor.settle(c, unverifiable=(  # (the wall words it as "no video was examined")
                    f"no footage was examined for this settlement: the live audit did not finish in "
                    f"{c.attempts - 1} attempts (its worker failed or was stopped each time: see the worker's log)"))
            elif self.auditor.ready(s):
                self.auditor.settle(c)
            elif (now - c.due_at).total_seconds() >= self.settings.live_max_wait_s:
                until = self.auditor.needed_until(s)
                until = until.astimezone(self.auditor.cameras.business_hours(s.pharmacy_id)[2])
                self.auditor.settle(c, missing=True, unverifiable=(
                    f"the store had no footage of counter {s.pharmacy_id}/{s.counter_id} "
                    f"through {until:%H:%M:%S} camera time {self.settings.live_max_wait_s:g} s after it was due"))
            else:
                wait = min(max(self.settings.live_poll_s, 2.0), self.settings.live_max_wait_s)
                with transaction(self.factory) as session:
                    live_queue.give_back(session, worker=self.name, settlement_id=sid,
                                         not_before=now + timedelta(seconds=wait))
                return
            self.done += 1
        except Exception:  # noqa: BLE001 - logged; the row is tried again after a pause, attempts counted
            log.exception("settlement %s failed (attempt %d)", sid, c.attempts)
            with transaction(self.factory) as session:
                session.execute(update(LiveSettlement).where(
                    LiveSettlement.settlement_id == sid, LiveSettlement.claimed_by == self.name,
                    LiveSettlement.state == live_queue.CLAIMED).values(
                    state=live_queue.PENDING, claimed_by=None,
                    lease_until=utcnow() + timedelta(seconds=min(BACKOFF_MAX_S, 2.0 ** c.attempts))))
        finally:
            self.holding.discard(sid)

    def _give_back(self, rows: list[Claimed]) -> None:
        with transaction(self.factory) as session:
            for c in rows:
                live_queue.give_back(session, worker=self.name, settlement_id=c.settlement.settlement_id,
                                     not_before=utcnow())
                self.holding.discard(c.settlement.settlement_id)

    def _idle(self) -> bool:
        with self.factory() as session:
            return not live_queue.busy(session)

    def _heartbeat(self) -> None:
        every = max(0.5, self.settings.live_lease_s / 3)
        while not self.stop.wait(every):
            held = sorted(self.holding)
            if not held:
                continue
            try:
                with transaction(self.factory) as session:
                    live_queue.renew(session, worker=self.name, settlement_ids=held, lease_s=self.settings.live_lease_s)
            except Exception:  # noqa: BLE001 - the next beat tries again; the lease is long enough for one miss
                log.warning("worker %s: lease renewal failed", self.name, exc_info=True)


def worker_name(index: int = 0) -> str:
    return f"{os.uname().nodename[:40]}:{os.getpid()}:{index}"


def supervise(settings: Settings, *, cameras_file, videos: str, stop, index: int = 0,
              until_idle: bool = False, models=None) -> int:
    """One worker process: the loop, restarted after a crash with a growing pause; returns the
    settlements it finished. Models load once (at the first footage) and survive restarts."""
    engine = make_engine(settings.db_url)
    factory = session_factory(engine)
    cameras = load_cameras(cameras_file, settings.input_encoding)
    store = open_store(str(videos), settings)
    name = worker_name(index)
    auditor: LiveAuditor | None = None
    backoff, done = 1.0, 0
    try:
        while not stop.is_set():
            try:
                if auditor is None:  # (the database may be down at start too: tried again like a crash)
                    with transaction(factory) as session:
                        aggregates.ensure_timezone(session, settings.display_timezone)
                        run_id = repository.start_run(session, settlements_file=f"live:{name}",
                                                      videos=store_location(str(videos)))
                    auditor = LiveAuditor(settings, cameras, store, factory, run_id=run_id, models=models)
                worker = Worker(auditor, factory, settings, name, stop)
                try:
                    worker.run(until_idle=until_idle)
                finally:
                    done += worker.done
                break
            except Exception:  # noqa: BLE001 - the database went away, a bug: log, pause, start again
                log.exception("worker %s crashed; restarting in %.0f s", name, backoff)
                stop.wait(backoff)
                backoff = min(BACKOFF_MAX_S, backoff * 2)
    finally:
        if auditor is not None:
            try:
                with transaction(factory) as session:
                    repository.finish_run(session, run_id=auditor.run_id, summary={"live": True, "settled": done})
            except Exception:  # noqa: BLE001 - stopping while the database is down: the run stays open
                log.warning("worker %s: could not close its run", name, exc_info=True)
        engine.dispose()
    return done


def _child(settings: Settings, cameras_file, videos: str, stop, index: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us through ``stop``
    _on_signals(stop.set, (signal.SIGTERM,))  # (a SIGTERM to the process group: every worker stops)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    supervise(settings, cameras_file=cameras_file, videos=videos, stop=stop, index=index)


def check_workers(settings: Settings, workers: int) -> None:
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if workers > 1 and not settings.db_url.startswith("postgresql"):
        raise ConfigError(f"--workers {workers} needs PostgreSQL: SQLite takes one live worker "
                          "(its writes are serial; run one worker, or use --db postgresql://...)")


def run_workers(settings: Settings, *, cameras_file, videos: str, workers: int = 1,
                until_idle: bool = False) -> int:
    """Run the live workers until SIGTERM/SIGINT (``until_idle``: until nothing is left: one worker)."""
    check_workers(settings, workers)
    engine = make_engine(settings.db_url)
    migrate(engine)
    engine.dispose()
    open_store(str(videos), settings)  # a wrong store fails here, before any worker starts
    if workers == 1:
        stop = threading.Event()
        _on_signals(stop.set)
        return supervise(settings, cameras_file=cameras_file, videos=videos, stop=stop, until_idle=until_idle)
    ctx = multiprocessing.get_context("spawn")
    stop, halt = ctx.Event(), threading.Event()
    _on_signals(halt.set)
    procs = {i: _start(ctx, settings, cameras_file, videos, stop, i) for i in range(workers)}
    pauses = dict.fromkeys(procs, 1.0)
    while not halt.is_set() and not stop.is_set():
        for i, p in list(procs.items()):
            if not p.is_alive() and not halt.is_set() and not stop.is_set():  # killed or crashed hard: another
                log.warning("worker process %d (pid %s) ended with %s; restarting in %.0f s", i, p.pid, p.exitcode, pauses[i])
                halt.wait(pauses[i])
                pauses[i] = min(BACKOFF_MAX_S, pauses[i] * 2)
                procs[i] = _start(ctx, settings, cameras_file, videos, stop, i)
        halt.wait(1.0)
    stop.set()
    for p in procs.values():
        p.join(timeout=settings.live_lease_s)
        if p.is_alive():
            p.terminate()
    return 0


def _start(ctx, settings, cameras_file, videos, stop, index):
    p = ctx.Process(target=_child, args=(settings, cameras_file, videos, stop, index), name=f"rxaudit-live-{index}")
    p.start()
    return p


def _on_signals(handler, signals=(signal.SIGTERM, signal.SIGINT)) -> None:
    """``handler`` on these signals, called from a thread of its own: an event's ``set`` called in the
    handler itself would deadlock when the signal lands while this thread waits on that event (a
    multiprocessing event's set waits for its sleepers to wake)."""
    if threading.current_thread() is not threading.main_thread():
        return  # (a test running the workers in a thread stops them through ``stop``)
    for sig in signals:
        signal.signal(sig, lambda *_: threading.Thread(target=handler, daemon=True).start())
