"""Clock health: the best-fit offset is a diagnostic; a counter is suspect only when the best fit
is far from the configured offset, much better, sharply peaked and backed by enough swipes."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest

from ingest.cameras import CamerasConfig, CounterConfig, PharmacyConfig
from reconcile.clock_health import (PROFILE_KEY, ClockOptions, ClockVerdict, SwipeProfile, assess,
                                    coverage, estimate, mark_suspect_flags, presence_profile)
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind
from tests.factories import T0, observation, settlement, visit

DAY = date(2026, 11, 20)


def day_of_swipes(n_customers: int, *, fraud: int = 0, actual: float = 0.0, configured: float = 0.0,
                  gap: float = 240.0, stay: float = 20.0, scan: str = "wide", seed: int = 1,
                  fraud_after: tuple[float, float] = (2.0, 3.0), periodic: bool = False):
    """A counter day: customers ``gap`` s apart (jittered) who stay ~``stay`` s and pay during
    their stay; ``fraud`` empty-counter swipes ``fraud_after`` s after a customer left. The camera
    clock is ``actual`` s ahead of true time; cameras.yaml says ``configured``. ``scan`` is what
    was decoded: "wide" (+-125 s around every swipe) or "windows" (the audit's -12/+6 s, bridged
    when swipes are <= 60 s apart). Returns the swipes' profiles."""
    rng = random.Random(seed)
    visits, swipes = [], []
    for k in range(n_customers):
        arrive = k * gap + (0 if periodic else rng.uniform(-gap / 4, gap / 4))
        leave = arrive + (stay if periodic else rng.uniform(stay - 4, stay + 4))
        visits.append((arrive, leave))
        swipes.append(arrive + 6 + (leave - arrive - 12) * (0.5 if periodic else rng.random()))
    for k in rng.sample(range(n_customers), fraud):
        swipes.append(visits[k][1] + rng.uniform(*fraud_after))
    swipes.sort()
    cam_visits = [visit(a + actual, b + actual, track_id=i) for i, (a, b) in enumerate(visits)]
    cam_swipes = [s + configured for s in swipes]  # where the audit looks on the camera clock
    if scan == "wide":
        spans = [(t - 125, t + 125) for t in cam_swipes]
    else:
        spans = []
        for t in cam_swipes:
            if spans and t - 12 <= spans[-1][1] + 60:
                spans[-1] = (spans[-1][0], t + 6)
            else:
                spans.append((t - 12, t + 6))
    times = sorted({round(x) for a, b in spans for x in range(int(a), int(b) + 1)})
    obs = [observation(x) for x in times]
    profiles = []
    for t in cam_swipes:
        seen = {PROFILE_KEY: presence_profile(T0 + timedelta(seconds=t), cam_visits, obs,
                                              bound_s=120, max_gap_s=3, offset_s=configured)}
        profiles.append(SwipeProfile.from_seen(seen))
    return profiles


def judge(profiles, configured: float = 0.0, **options):
    return estimate(profiles, pharmacy_id="PH1", counter_id="C1", day=DAY,
                    configured_offset_s=configured, options=ClockOptions(**options))


@pytest.mark.parametrize("case, kwargs, verdict, best", [
    # the real case: an honest clock, 4 empty-counter swipes 2-3 s after a customer left, in 14.
    # A few seconds of shift "explain" them all; that is fraud-fitting, not a clock problem.
    ("honest clock, 4 of 14 fraud", dict(n_customers=10, fraud=4), ClockVerdict.OK, (-5, 5)),
    ("honest clock, no fraud", dict(n_customers=14), ClockVerdict.OK, (0, 0)),
    ("clock 60 s fast, unknown", dict(n_customers=14, actual=60), ClockVerdict.SUSPECT, (55, 65)),
    ("clock 45 s slow, unknown", dict(n_customers=12, actual=-45), ClockVerdict.SUSPECT, (-50, -40)),
    ("clock off 60 s with fraud too", dict(n_customers=10, fraud=4, actual=60), ClockVerdict.SUSPECT, (50, 70)),
    ("clock 60 s fast, configured", dict(n_customers=14, actual=60, configured=60), ClockVerdict.OK, (60, 60)),
    ("clock off 12 s: within fraud-fitting", dict(n_customers=14, actual=12), ClockVerdict.OK, (7, 17)),
    ("few swipes", dict(n_customers=4, actual=60), ClockVerdict.INSUFFICIENT, (0, 0)),
    ("always busy: no information", dict(n_customers=30, gap=20, stay=24, actual=60), ClockVerdict.OK, None),
    # one customer a minute like clockwork: +30 and -30 fit equally (an alias one customer away);
    # the configured offset fits nothing either way
    ("periodic customers: two equal peaks", dict(n_customers=14, gap=60, stay=20, actual=30,
                                                 periodic=True), ClockVerdict.SUSPECT, None),
])
def test_verdicts(case, kwargs, verdict, best):
    configured = kwargs.get("configured", 0.0)
    health = judge(day_of_swipes(**kwargs), configured=configured)
    assert health.verdict == verdict, (case, health)
    if best is not None:
        lo, hi = best
        assert lo <= health.best_offset_s <= hi, (case, health)
    assert health.configured_offset_s == configured


def test_an_empty_counter_all_day_is_fraud_not_a_clock():
    """Swipes with nobody anywhere near: no offset explains them, so the counter stays ok (and its
    no_customer flags keep their full score)."""
    profiles = [SwipeProfile(customers=(), decoded=((-120.0, 120.0),)) for _ in range(12)]
    health = judge(profiles)
    assert health.verdict == ClockVerdict.OK
    assert health.agreement_best == 0.0 and health.best_offset_s == 0.0


def fraud_day(n: int, seed: int, *, stay: float = 20.0, gap: float = 30.0):
    """Customers come and go at random (stays 12-28 s, exponential gaps averaging ``gap`` s); the
    ``n`` swipes are all made while nobody stands at the counter (an all-fraud day)."""
    rng = random.Random(seed)
    visits, t = [], 0.0
    while t < n * 300 + 600:
        a = t + rng.expovariate(1 / gap)
        visits.append((a, a + rng.uniform(stay - 8, stay + 8)))
        t = visits[-1][1]
    swipes: list[float] = []
    while len(swipes) < n:
        x = rng.uniform(300, n * 300)
        if not any(a - 3 <= x <= b + 3 for a, b in visits):
            swipes.append(x)
    cam_visits = [visit(a, b, track_id=i) for i, (a, b) in enumerate(visits)]
    obs = [observation(x) for x in sorted({x for s in swipes for x in range(int(s - 125), int(s + 126))})]
    return [SwipeProfile.from_seen({PROFILE_KEY: presence_profile(T0 + timedelta(seconds=x), cam_visits, obs,
                                                                  bound_s=120)}) for x in swipes]


@pytest.mark.parametrize("n", [6, 10, 14])
def test_an_all_fraud_day_on_a_busy_counter_is_not_explained_by_a_clock(n):
    """Customers at the counter ~40% of the time, every swipe made when nobody is there: some far
    offset always agrees with several swipes by luck; that is not a clock problem (at most one
    day in twenty may look otherwise: the significance level is 1%, the tries correlated)."""
    verdicts = [judge(fraud_day(n, seed)).verdict for seed in range(20)]
    assert verdicts.count(ClockVerdict.SUSPECT) <= 1, verdicts


def test_audit_windows_cannot_see_a_far_offset_of_isolated_swipes():
    """The audit decodes -12/+6 s around isolated swipes: an offset of 60 s is out of sight there
    (needs `rxaudit clocks --settlements ...`, which scans +-120 s); it is never called suspect on
    what it cannot see."""
    health = judge(day_of_swipes(14, actual=60, scan="windows"))
    assert health.verdict == ClockVerdict.OK
    assert health.known_best >= 6 and -12 <= health.best_offset_s <= 6


def test_audit_windows_see_the_offset_on_a_busy_bridged_day():
    """Swipes <= 60 s apart are decoded as one span: a 30 s offset is visible to the audit."""
    health = judge(day_of_swipes(14, actual=30, gap=50, stay=16, scan="windows", seed=3))
    assert health.verdict == ClockVerdict.SUSPECT, health
    assert 25 <= health.best_offset_s <= 35


def test_confidence_and_agreements_are_reported():
    suspect = judge(day_of_swipes(14, actual=60))
    assert suspect.agreement_best == 1.0 and suspect.agreement_configured < 0.5
    assert suspect.runner_up is not None and suspect.runner_up < 0.8
    assert suspect.confidence >= 0.99  # 14 of 14 where customers stand ~10% of the time: no luck
    busy = judge(day_of_swipes(n_customers=30, gap=20, stay=24, actual=60))
    assert busy.verdict == ClockVerdict.OK and busy.confidence < 0.9  # customers nearly always there
    periodic = judge(day_of_swipes(14, gap=60, stay=20, actual=30, periodic=True))
    assert periodic.runner_up >= 0.9 and periodic.confidence < 0.5  # the alias is reported: which
    assert {round(periodic.best_offset_s / 10), round(periodic.runner_up_offset_s / 10)} == {-3, 3}  # -30 or +30?
    assert "nearly as good" in periodic.describe()
    data = suspect.to_json()
    assert data["verdict"] == "suspect" and data["best_offset_s"] == suspect.best_offset_s
    assert "+6" in suspect.describe() or "+5" in suspect.describe()


@pytest.mark.parametrize("options, verdict", [
    (dict(), ClockVerdict.SUSPECT),
    (dict(suspect_offset_s=90), ClockVerdict.OK),  # a far threshold: 60 s is not far enough
    (dict(max_offset_s=30), ClockVerdict.OK),      # searched range too narrow to find it
    (dict(min_swipes=20), ClockVerdict.INSUFFICIENT),
])
def test_options_bound_the_search_and_the_verdict(options, verdict):
    assert judge(day_of_swipes(14, actual=60), **options).verdict == verdict


@pytest.mark.parametrize("times, gap, expected", [
    ([0, 1, 2, 3], 3, [(-0.5, 3.5)]),
    ([0, 1, 10, 11], 3, [(-0.5, 1.5), (9.5, 11.5)]),
    ([5], 3, [(4.5, 5.5)]),
    ([], 3, []),
])
def test_coverage(times, gap, expected):
    assert coverage(times, max_gap_s=gap) == expected


def test_profile_is_relative_clipped_and_merged():
    t = T0 + timedelta(seconds=100)
    visits = [visit(90, 110, track_id=1), visit(105, 120, track_id=2), visit(-500, -400, track_id=3),
              visit(210, 400, track_id=4)]
    obs = [observation(x) for x in range(80, 240)]
    profile = presence_profile(t, visits, obs, bound_s=120, max_gap_s=3)
    assert profile == {"customers": [[-10.0, 20.0], [110.0, 120.0]], "decoded": [[-20.5, 120.0]],
                       "offset_s": 0.0}


@pytest.mark.parametrize("seen", [{}, {PROFILE_KEY: "x"}, {PROFILE_KEY: {"customers": [["a", 1]]}}])
def test_missing_or_bad_profiles_are_skipped(seen):
    assert SwipeProfile.from_seen(seen) is None


def _result(n: int, flags: tuple[Flag, ...], seen: dict) -> CheckResult:
    s = settlement(n, seconds=300 * n)
    status = CheckStatus.FLAGGED if flags else CheckStatus.CLEAN
    return CheckResult(s, status, flags, seen)


def test_suspect_counter_no_customer_flags_say_so_and_score_lower():
    profiles = day_of_swipes(14, actual=60)
    seen = [{PROFILE_KEY: {"customers": [list(c) for c in p.customers],
                           "decoded": [list(d) for d in p.decoded]}} for p in profiles]
    results = []
    for n, sn in enumerate(seen, start=1):
        flags = ()
        if not SwipeProfile.from_seen(sn).state(0.0, 1.0):
            flags = (Flag(f"S{n}", FlagKind.NO_CUSTOMER, 0.95, "No customer at the counter"),
                     Flag(f"S{n}", FlagKind.OFF_HOURS, 0.9, "after hours"))
        results.append(_result(n, flags, sn))
    cameras = CamerasConfig()
    health = assess([r.settlement for r in results], {r.settlement.settlement_id: r.seen for r in results},
                    cameras)
    (h,) = health.values()
    assert h.verdict == ClockVerdict.SUSPECT and (h.pharmacy_id, h.counter_id) == ("PH1", "C1")
    marked = mark_suspect_flags(results, health, cameras)
    lowered = [f for r in marked for f in r.flags if f.kind == FlagKind.NO_CUSTOMER]
    assert lowered, "the fixture must have no_customer flags"
    assert all(f.score == pytest.approx(0.475) and "camera clock suspect" in f.reason for f in lowered)
    others = [f for r in marked for f in r.flags if f.kind == FlagKind.OFF_HOURS]
    assert all(f.score == 0.9 and f.reason == "after hours" for f in others)


def test_ok_counter_flags_are_untouched():
    profiles = day_of_swipes(10, fraud=4)
    results = [_result(n, (Flag(f"S{n}", FlagKind.NO_CUSTOMER, 0.95, "No customer"),),
                       {PROFILE_KEY: {"customers": [list(c) for c in p.customers],
                                      "decoded": [list(d) for d in p.decoded]}})
               for n, p in enumerate(profiles, start=1)]
    cameras = CamerasConfig(pharmacies={"PH1": PharmacyConfig(counters={"C1": CounterConfig()})})
    health = assess([r.settlement for r in results], {r.settlement.settlement_id: r.seen for r in results},
                    cameras)
    assert [h.verdict for h in health.values()] == [ClockVerdict.OK]
    assert mark_suspect_flags(results, health, cameras) == results


def test_days_are_local_days_of_the_pharmacy():
    """Swipes either side of local midnight (Asia/Shanghai) are two counter-days."""
    late = settlement(1, at=datetime(2026, 11, 20, 23, 59, 0, tzinfo=T0.tzinfo))
    early = settlement(2, at=datetime(2026, 11, 21, 0, 1, 0, tzinfo=T0.tzinfo))
    seen = {PROFILE_KEY: {"customers": [], "decoded": [[-10, 10]]}}
    health = assess([late, early], {"S1": seen, "S2": seen}, CamerasConfig())
    assert sorted(k[2] for k in health) == [date(2026, 11, 20), date(2026, 11, 21)]


def test_profiles_made_at_an_old_offset_are_judged_at_the_confirmed_one():
    """An audit ran with offset 0 on a camera 60 s fast; the inspector confirmed +60 into
    cameras.yaml: the stored profiles, judged against the new configuration, are ok at +60."""
    profiles = day_of_swipes(14, actual=60)
    swipes = [settlement(n, seconds=300 * n) for n in range(1, len(profiles) + 1)]
    seen = {s.settlement_id: {PROFILE_KEY: {"customers": [list(c) for c in p.customers],
                                            "decoded": [list(d) for d in p.decoded], "offset_s": 0.0}}
            for s, p in zip(swipes, profiles)}
    (before,) = assess(swipes, seen).values()  # no cameras: the offset the audit used
    assert before.verdict == ClockVerdict.SUSPECT and before.configured_offset_s == 0.0
    confirmed = CamerasConfig(pharmacies={"PH1": PharmacyConfig(counters={"C1": CounterConfig(clock_offset_s=60)})})
    (after,) = assess(swipes, seen, confirmed).values()
    assert after.verdict == ClockVerdict.OK and after.configured_offset_s == 60
    assert after.agreement_configured == 1.0 and 58 <= after.best_offset_s <= 62
