"""camera_tamper: a swipe inside a tamper span the recorder wrote down is a finding (not a missing
clip, and no video rule reads the tampered picture); a swipe inside a recording gap stays unverifiable
with the gap named. Without a recorder's log nothing changes."""

from __future__ import annotations

from datetime import timedelta

from reconcile.camera_log import CameraLog, CameraSpan
from reconcile.engine import run_rules
from rxaudit.domain import CheckStatus, FlagKind
from tests.factories import T0, context, covered_footage, settlement, visit

KEY = ("PH1", "C1")


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def run(swipes, footage, log: CameraLog):
    ctx = context(footage, settlements=list(swipes))
    ctx.camera_log = log
    return {r.settlement.settlement_id: r for r in run_rules(list(swipes), ctx)}


def tamper(start, end, what="uniform", key=KEY):
    return CameraLog.of({key: [CameraSpan(at(start), None if end is None else at(end), what)]}, {})


def test_a_swipe_inside_a_tamper_span_is_a_finding_and_one_outside_is_not():
    # nobody in the picture all along: outside the span that is no_customer, inside it camera_tamper
    swipes = [settlement(1, seconds=15), settlement(2, seconds=45)]
    got = run(swipes, {KEY: covered_footage(-20, 80)}, tamper(30, 60))
    assert [str(f.kind) for f in got["S1"].flags] == ["no_customer"]
    (flag,) = got["S2"].flags
    assert flag.kind == FlagKind.CAMERA_TAMPER and got["S2"].status == CheckStatus.FLAGGED
    assert flag.kind.accuses
    assert "uniform picture (lens covered?) 10:00:30–10:01:00" in flag.reason
    (span,) = flag.evidence[0].seen["camera_tamper"]
    assert (span["start"], span["end"], span["reason"]) == (at(30).isoformat(), at(60).isoformat(), "uniform")
    assert (span["from"], span["to"]) == ("10:00:30", "10:01:00")


def test_a_span_at_another_counter_or_still_open():
    swipes = [settlement(1, seconds=45)]
    other = run(swipes, {KEY: covered_footage(-20, 80)}, tamper(30, 60, key=("PH1", "C2")))
    assert [str(f.kind) for f in other["S1"].flags] == ["no_customer"]
    still = run(swipes, {KEY: covered_footage(-20, 80)}, tamper(30, None, what="black"))
    assert [str(f.kind) for f in still["S1"].flags] == ["camera_tamper"]
    assert "black picture since 10:00:30" in still["S1"].flags[0].reason


def test_tamper_wins_over_missing_footage_and_the_picture_judges_nothing():
    """A tampered span without footage is still the finding; a frozen picture of one customer does
    not make card pooling of the swipes it covers."""
    swipes = [settlement(1, seconds=15), settlement(2, seconds=300)]
    got = run(swipes, {KEY: covered_footage(-20, 80, [visit(-20, 80)])}, tamper(0, 400, what="frozen"))
    for sid in ("S1", "S2"):
        assert [str(f.kind) for f in got[sid].flags] == ["camera_tamper"]
        assert got[sid].status == CheckStatus.FLAGGED and got[sid].identity is None
    frozen = [settlement(k, seconds=10 + k, card=f"CARD-{k}") for k in range(1, 5)]
    pooled = run(frozen, {KEY: covered_footage(-20, 80, [visit(-20, 80)])}, CameraLog())
    assert any(str(f.kind) == "card_pooling" for f in pooled["S1"].flags)  # the same swipes, untampered
    got = run(frozen, {KEY: covered_footage(-20, 80, [visit(-20, 80)])}, tamper(0, 60, what="frozen"))
    assert {str(f.kind) for r in got.values() for f in r.flags} == {"camera_tamper"}


def test_a_swipe_in_a_gap_stays_unverifiable_with_the_gap_named():
    gap = CameraSpan(at(100), at(200), "cannot read the stream: Connection refused")
    log = CameraLog.of({}, {KEY: [gap]})
    swipes = [settlement(1, seconds=150), settlement(2, seconds=15)]
    got = run(swipes, {KEY: covered_footage(-20, 80)}, log)
    assert got["S1"].status == CheckStatus.UNVERIFIABLE
    (flag,) = got["S1"].flags
    assert flag.kind == FlagKind.UNVERIFIABLE
    assert flag.reason.startswith("footage not recorded: camera not recording 10:01:40–10:03:20 "
                                  "(cannot read the stream: Connection refused); no footage around the swipe")
    assert flag.evidence[0].seen["camera_gaps"][0]["reason"] == "cannot read the stream: Connection refused"
    assert [str(f.kind) for f in got["S2"].flags] == ["no_customer"]  # footage there: the gap is elsewhere
    assert "camera_gaps" not in got["S2"].seen


def test_a_gap_does_not_unverify_footage_that_exists():
    """The recorder's gap overlaps a swipe whose footage is there anyway (another copy): judged."""
    log = CameraLog.of({}, {KEY: [CameraSpan(at(10), at(20), "the stream ended")]})
    got = run([settlement(1, seconds=15)], {KEY: covered_footage(-20, 80, [visit(0, 30)])}, log)
    assert got["S1"].status == CheckStatus.CLEAN and got["S1"].flags == ()


def test_an_empty_log_changes_nothing():
    swipes = [settlement(1, seconds=15), settlement(2, seconds=300)]
    footage = {KEY: covered_footage(-20, 80)}
    plain = run(swipes, footage, CameraLog())
    assert [(str(f.kind), f.reason) for f in plain["S2"].flags][0][1].startswith("no footage around")
    assert [str(f.kind) for f in plain["S1"].flags] == ["no_customer"]
