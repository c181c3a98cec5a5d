"""Runs the rules over a batch of settlements and decides each settlement's outcome."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from reconcile.context import AuditContext
from reconcile.rules import burst, card_pooling, duplicate_settlement, goods_mismatch, no_customer, off_hours
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind, Settlement

VIDEO_RULES = (no_customer.check, goods_mismatch.check)
LOG_RULES = (off_hours.check,)
LOG_BATCH_RULES = (burst.check, duplicate_settlement.check)
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
    found: dict[str, list[Flag]] = defaultdict(list)
    seen_by_id = {}
    verified: set[str] = set()
    for s in settlements:
        seen = ctx.seen(s)
        seen_by_id[s.settlement_id] = seen
        reason = ctx.unverifiable_reason(s)
        if reason is not None:
            found[s.settlement_id].append(
                Flag(s.settlement_id, FlagKind.UNVERIFIABLE, 1.0, reason, (ctx.evidence(s, seen),))
            )
        else:
            verified.add(s.settlement_id)
            for rule in VIDEO_RULES:
                if (flag := rule(s, ctx, seen)) is not None:
                    found[s.settlement_id].append(flag)
        for rule in LOG_RULES:
            if (flag := rule(s, ctx, seen)) is not None:
                found[s.settlement_id].append(flag)
    for batch_rule in LOG_BATCH_RULES:
        for flag in batch_rule(settlements, ctx):
            found[flag.settlement_id].append(flag)
    for video_rule in VIDEO_BATCH_RULES:
        for flag in video_rule(settlements, ctx, verified):
            found[flag.settlement_id].append(flag)

    results = []
    for s in settlements:
        by_kind: dict[FlagKind, list[Flag]] = defaultdict(list)
        for flag in found[s.settlement_id]:
            by_kind[flag.kind].append(flag)
        flags = tuple(merge_flags(group) for group in by_kind.values())
        if FlagKind.UNVERIFIABLE in by_kind:
            status = CheckStatus.UNVERIFIABLE
        else:
            status = CheckStatus.FLAGGED if flags else CheckStatus.CLEAN
        visit = ctx.visit_at(s) if s.settlement_id in verified else None
        results.append(CheckResult(s, status, flags, seen_by_id[s.settlement_id],
                                   identity=visit.identity if visit is not None else None))
    return results
