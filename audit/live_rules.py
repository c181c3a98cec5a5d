"""Phase 2 for one live settlement (issue 28): its own rules, then the rules that look across settlements
over the recent stored history, each within its horizon.

Batch runs every rule over the whole batch. Live gives the same flags by reading, for each rule, the
stored settlements any pattern through this one can involve, and by adding flags to earlier (stored)
settlements when this one completes a pattern. That equals batch because each of these rules is
monotone (another settlement only ever adds flags) and every pattern is judged when its last member
is audited, with all the others stored:

- ``burst``: the counter's settlements within one burst window either side;
- ``duplicate_settlement``: the card's settlements at the pharmacy within the duplicate window;
- ``stock_shortfall``: the pharmacy's sales from the latest stock count (at or before this sale) of its
  items, with the stored counts and deliveries (the ledger batch reads from the files beside the log);
- ``card_pooling`` (one visit): the counter's swipes decoded with this one (:mod:`audit.live`);
- ``card_pooling`` (one face): the stored identities within the period matching this visit's;
- ``trace_code_reuse`` and ``card_conflict``: the cross-audit paths batch already has (earlier codes and
  cards from the database, the earlier settlements flagged when saved).

A flag is only ever added to an earlier settlement (one it has of that kind, reviewed or not, stays).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np
from sqlalchemy.orm import Session

from database import live_history
from reconcile import clock_health
from reconcile.clock_health import ClockOptions
from reconcile.context import AuditContext, SettlementFootage
from reconcile.engine import iter_results, outcome
from reconcile.rules import burst, camera_tamper, card_pooling, duplicate_settlement, stock_shortfall
from rxaudit.domain import Box, CheckResult, Flag, FlagKind, Settlement, Visit

STOCK_AHEAD = timedelta(days=1)  # later sales re-judged with this one (they were audited before it)


@dataclass
class Judged:
    """The settlement's result, and the flags its audit adds to earlier settlements."""

    result: CheckResult
    earlier: list[tuple[Settlement, Flag]] = field(default_factory=list)


def verified_ids(settlements: Iterable[Settlement], ctx: AuditContext) -> set[str]:
    """Those whose footage can judge them (as ``reconcile.engine.iter_results`` decides it)."""
    settlements = list(settlements)
    ids = {s.settlement_id for s in settlements if ctx.unverifiable_reason(s) is None}
    if ctx.camera_log.tamper:
        ids -= {s.settlement_id for s in settlements
                if s.counter_key in ctx.camera_log.tamper and camera_tamper.check(s, ctx, ctx.seen(s))}
    return ids


def with_one(stored: Sequence[Settlement], s: Settlement) -> list[Settlement]:
    """The stored settlements with ``s`` (its own record, not a stored copy), in time order."""
    out = [x for x in stored if x.settlement_id != s.settlement_id] + [s]
    return sorted(out, key=lambda x: (x.settled_at, x.settlement_id))


def judge(session: Session, s: Settlement, chain: Sequence[Settlement], ctx: AuditContext,
          clock: ClockOptions = ClockOptions()) -> Judged:
    """``ctx``: the chain's footage summaries (``chain``: the counter's swipes decoded with ``s``, itself
    among them), earlier codes and cards of ``s``, pharmacy locations, the camera log; no face history
    (read here). Read inside the transaction that saves the outcome. ``clock``: clock health options."""
    result = next(iter_results([s], ctx))  # its own rules; codes and cards against the stored ones
    mine: list[Flag] = []
    earlier: list[tuple[Settlement, Flag]] = []

    def collect(flags: Iterable[Flag], among: Sequence[Settlement]) -> None:
        by_id = {x.settlement_id: x for x in among}
        for f in flags:
            if f.settlement_id == s.settlement_id:
                mine.append(f)
            elif f.settlement_id in by_id:
                earlier.append((by_id[f.settlement_id], f))

    cfg, t = ctx.config, s.settled_at
    w = timedelta(seconds=cfg.burst_window_s)
    near = with_one(live_history.settlements(session, start=t - w, end=t + w, pharmacy_id=s.pharmacy_id,
                                             counter_id=s.counter_id), s)
    collect(burst.check(near, ctx), near)
    d = timedelta(seconds=cfg.duplicate_window_s)
    same_card = with_one(live_history.settlements(session, start=t - d, end=t + d, pharmacy_id=s.pharmacy_id,
                                                  card_hash=s.card_hash), s)
    collect(duplicate_settlement.check(same_card, ctx), same_card)
    collect(*_stock(session, s, ctx))
    verified = verified_ids(chain, ctx)
    collect(card_pooling.same_visit(chain, ctx, verified), chain)
    collect(*_same_face(session, chain, verified, ctx))
    return Judged(_clock_reviewed(session, _merged(result, mine), ctx, clock), earlier)


def _clock_reviewed(session: Session, result: CheckResult, ctx: AuditContext, options: ClockOptions) -> CheckResult:
    """A no_customer flag on a counter whose clock the day's swipes so far make suspect says so and
    scores lower, as batch marks it from the whole day's (``reconcile.clock_health``). The day is
    judged on the swipes audited so far: flags made before it turned suspect keep their score."""
    if not any(f.kind == FlagKind.NO_CUSTOMER for f in result.flags):
        return result
    s = result.settlement
    local = s.settled_at.astimezone(ctx.cameras.business_hours(s.pharmacy_id)[2])
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    stored = live_history.settlements(session, start=day, end=day + timedelta(days=1), pharmacy_id=s.pharmacy_id,
                                      counter_id=s.counter_id)
    seen_of = live_history.seen_of(session, ids=[x.settlement_id for x in stored])
    seen_of[s.settlement_id] = result.seen
    health = clock_health.assess(with_one(stored, s), seen_of, ctx.cameras, options)
    return clock_health.mark_suspect_flags([result], health, ctx.cameras, options)[0]


def _merged(result: CheckResult, more: Sequence[Flag]) -> CheckResult:
    """``result`` with ``more`` flags, merged and its status decided as the engine does."""
    if not more:
        return result
    flags, status = outcome((*result.flags, *more))
    return replace(result, flags=flags, status=status)


def _stock(session: Session, s: Settlement, ctx: AuditContext) -> tuple[list[Flag], list[Settlement]]:
    codes = {i.item_code for i in s.items}
    counts, purchases = live_history.stock_records(session, pharmacy_id=s.pharmacy_id, item_codes=codes,
                                                   until=s.settled_at + STOCK_AHEAD)
    latest: dict[str, object] = {}
    for c in counts:
        if c.counted_at <= s.settled_at and (c.item_code not in latest or c.counted_at > latest[c.item_code]):
            latest[c.item_code] = c.counted_at
    if not latest:
        return [], []  # no opening balance: not judged (as in batch)
    sales = with_one(live_history.settlements(session, start=min(latest.values()), end=s.settled_at + STOCK_AHEAD,
                                              pharmacy_id=s.pharmacy_id), s)
    tz = s.settled_at.tzinfo  # the ledger's times in the sale's zone, as batch reads them from the file
    counts = [replace(c, counted_at=c.counted_at.astimezone(tz)) for c in counts]
    purchases = [replace(p, received_at=p.received_at.astimezone(tz)) for p in purchases]
    records = replace(ctx.records, stock_counts=tuple(counts), purchases=tuple(purchases))
    return stock_shortfall.check(sales, replace(ctx, records=records)), sales


def _same_face(session: Session, chain: Sequence[Settlement], verified: set[str], ctx: AuditContext
               ) -> tuple[list[Flag], list[Settlement]]:
    """One face at settlements of several cards within the period: the chain's identities against the
    stored ones; the stored settlements whose face matches are judged again too (a flag added where
    this one completes their pattern)."""
    current = card_pooling.identities(chain, ctx, verified)
    if not current:
        return [], []
    period = timedelta(days=ctx.config.pooling_period_days)
    first, last = min(r.settled_at for r in current), max(r.settled_at for r in current)
    chain_ids = {s.settlement_id for s in chain}
    # (a pattern through this visit lies within one period of it: so do all of its members)
    history = [r for r in live_history.identities(session, start=first - period, end=last + period)
               if r.settlement_id not in chain_ids]
    if not history:
        return [], []
    stored = np.stack([r.identity for r in history])
    close = np.zeros(len(history), dtype=bool)
    for r in current:
        close |= np.linalg.norm(stored - r.identity, axis=1) <= ctx.config.face_distance_threshold
    matched = {history[k].settlement_id: history[k] for k in np.flatnonzero(close)}
    if not matched:
        return [], []
    others = live_history.by_ids(session, ids=matched.keys())
    subjects = [*chain, *others]
    footage = dict(ctx.footage)
    for s in others:  # what same_face reads of a stored one: its visit's identity
        sid, r, at = s.settlement_id, matched[s.settlement_id], ctx.camera_time(s)
        visit = Visit(s.pharmacy_id, s.counter_id, -1, at, at, sightings=((at, Box(0, 0, 1, 1)),),
                      identity=r.identity, face_count=0)
        footage[sid] = SettlementFootage(sid, at, None, visit, {})
    judged = replace(ctx, footage=footage, history=tuple(history))
    return card_pooling.same_face(subjects, judged, verified | {s.settlement_id for s in others}), subjects
