"""Runs the rules over a batch of settlements and decides each settlement's outcome."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from reconcile.context import AuditContext
from reconcile.rules import burst, card_pooling, duplicate_settlement, goods_mismatch, no_customer, off_hours
from reconcile.rules import camera_tamper, card_conflict, stock_shortfall, trace_code_reuse
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind, Settlement

VIDEO_RULES = (no_customer.check, goods_mismatch.check)
LOG_RULES = (off_hours.check,)
LOG_BATCH_RULES = (burst.check, duplicate_settlement.check,
                   stock_shortfall.check, trace_code_reuse.check, card_conflict.check)  # last 3: records
VIDEO_BATCH_RULES = (card_pooling.same_visit, card_pooling.same_face)


def merge_flags(flags: Sequence[Flag]) -> Flag:
    """Several findings of one kind for one settlement become one flag (idempotent on id + kind)."""
    if len(flags) == 1:
        return flags[0]
    first = flags[0]
    return Flag(
        settlement_id=first.settlement_id,
        kind=first.kind,
        score=max(f.score for f in flags),
        reason=" | ".join(f.reason for f in flags),
        evidence=tuple(e for f in flags for e in f.evidence),
    )


def run_rules(settlements: Sequence[Settlement], ctx: AuditContext) -> list[CheckResult]:
    return list(iter_results(settlements, ctx))


def outcome(found: Iterable[Flag]) -> tuple[tuple[Flag, ...], CheckStatus]:
    """A settlement's flags, one per kind (:func:`merge_flags`), and the status they decide:
    unverifiable if any says so, flagged if any accuses, else clean (a review-only flag such as
    goods_unclear accuses no one)."""
    by_kind: dict[FlagKind, list[Flag]] = defaultdict(list)
    for flag in found:
        by_kind[flag.kind].append(flag)
    flags = tuple(merge_flags(group) for group in by_kind.values())
    if FlagKind.UNVERIFIABLE in by_kind:
        return flags, CheckStatus.UNVERIFIABLE
    return flags, CheckStatus.FLAGGED if any(f.kind.accuses for f in flags) else CheckStatus.CLEAN


def iter_results(settlements: Sequence[Settlement], ctx: AuditContext,
                 verified: set[str] | None = None) -> Iterator[CheckResult]:
    """Each settlement's outcome, one at a time, in the order given. The rules that look across
    settlements run first (they keep only the flags they raise); each settlement's own rules run as
    its result is made, so a caller that writes results in chunks never holds them all.
    ``verified``: the settlements whose footage can be judged, when the caller knows them already."""
    if verified is None:
        verified = {s.settlement_id for s in settlements if ctx.unverifiable_reason(s) is None}
    tampered: dict[str, Flag] = {}  # a tampered picture judges nothing: no video rule reads it
    if ctx.camera_log.tamper:
        for s in settlements:
            if s.counter_key in ctx.camera_log.tamper and (flag := camera_tamper.check(s, ctx, ctx.seen(s))):
                tampered[s.settlement_id] = flag
        verified = verified - tampered.keys()
    batch_found: dict[str, list[Flag]] = defaultdict(list)
    for batch_rule in LOG_BATCH_RULES:
        for flag in batch_rule(settlements, ctx):
            batch_found[flag.settlement_id].append(flag)
    for video_rule in VIDEO_BATCH_RULES:
        for flag in video_rule(settlements, ctx, verified):
            batch_found[flag.settlement_id].append(flag)

    for s in settlements:
        seen = ctx.seen(s)
        found: list[Flag] = []
        reason = ctx.unverifiable_reason(s)
        if s.settlement_id in tampered:  # the finding, whether or not the (useless) footage is there
            found.append(tampered.pop(s.settlement_id))
        elif reason is not None:
            found.append(Flag(s.settlement_id, FlagKind.UNVERIFIABLE, 1.0, reason, (ctx.evidence(s, seen),)))
        else:
            for rule in VIDEO_RULES:
                if (flag := rule(s, ctx, seen)) is not None:
                    found.append(flag)
        for rule in LOG_RULES:
            if (flag := rule(s, ctx, seen)) is not None:
                found.append(flag)
        found.extend(batch_found.pop(s.settlement_id, ()))
        flags, status = outcome(found)
        visit = ctx.visit_at(s) if s.settlement_id in verified else None
        yield CheckResult(s, status, flags, seen, identity=visit.identity if visit is not None else None)
