"""Clock health: per counter and day, the camera clock offset that best aligns swipes with customer
visits, with a confidence and a verdict. A DIAGNOSTIC only: it never changes the offset used.

Maximising agreement absorbs fraud: an empty-counter swipe 2-3 s after a customer left is
"explained" by a shift of a few seconds. So a counter is *suspect* only when the best fit lies far
from the configured offset (``suspect_offset_s``, beyond what fitting a few fraud swipes explains),
agrees much better there (``min_gain``) and well (``min_agreement``), is sharply peaked (not a chance
maximum: the probability that some offset agrees as well by luck, given the typical agreement at
other offsets, is at most ``max_chance``) and rests on at least ``min_swipes`` swipes. A second peak
(an alias one customer away) does not change the verdict: the configured offset is unsupported
either way; it lowers the confidence, and the runner-up and its offset are reported.

Phase 1 reduces each swipe to a :func:`presence_profile` (customer intervals and decoded coverage in
seconds relative to the swipe's camera time) stored in ``seen["clock_profile"]``; phase 2 and
``rxaudit clocks`` estimate from those profiles alone.
"""

from __future__ import annotations

import bisect
import enum
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

from rxaudit.domain import CheckResult, Flag, FlagKind, Observation, Settlement, Visit

PROFILE_KEY = "clock_profile"
COVERAGE_GAP_S = 3.0  # sampled frames farther apart than this leave a hole in the decoded coverage
Interval = tuple[float, float]


class ClockVerdict(enum.StrEnum):
    OK = "ok"
    SUSPECT = "suspect"
    INSUFFICIENT = "insufficient"  # too few swipes with footage to judge: treated as ok


@dataclass(frozen=True)
class ClockOptions:
    max_offset_s: float = 120.0  # offsets searched: configured +- this
    step_s: float = 1.0
    tolerance_s: float = 1.0  # a customer this close to the shifted swipe counts as present
    min_swipes: int = 6
    suspect_offset_s: float = 20.0  # best fit farther than this from the configured offset
    min_gain: float = 0.3  # agreement at the best fit minus agreement at the configured offset
    min_agreement: float = 0.8  # agreement at the best fit
    max_chance: float = 0.01  # the best fit may be a chance maximum with at most this probability
    alias_margin: float = 0.25  # full confidence needs the runner-up peak this far below the best fit
    independent_s: float = 10.0  # offsets this far apart count as independent tries of chance
    suspect_score_factor: float = 0.5  # no_customer scores on a suspect counter are multiplied by this

    @classmethod
    def from_settings(cls, settings: Any) -> ClockOptions:
        """Fields named ``clock_<field>`` in the settings, where present."""
        values = {f.name: getattr(settings, f"clock_{f.name}") for f in fields(cls)
                  if hasattr(settings, f"clock_{f.name}")}
        return cls(**values)


# -- phase 1: one swipe's profile ------------------------------------------------------------------

def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _time(o: Observation) -> datetime:
    return o.t


def coverage(times: Sequence[float], *, max_gap_s: float, pad_s: float = 0.5) -> list[Interval]:
    """Sorted observation times (any unit-consistent seconds) -> intervals decoded without a hole
    longer than ``max_gap_s``, each widened by ``pad_s``."""
    out: list[Interval] = []
    for t in times:
        if out and t - out[-1][1] <= max_gap_s:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return [(a - pad_s, b + pad_s) for a, b in out]


def presence_profile(t: datetime, visits: Sequence[Visit], observations: Sequence[Observation], *,
                     bound_s: float, max_gap_s: float = COVERAGE_GAP_S, offset_s: float = 0.0
                     ) -> dict[str, Any]:
    """Customer intervals and decoded coverage around ``t`` (camera time), in seconds relative to
    ``t`` and clipped to ``+-bound_s``. ``observations`` (anything with ``.t``) in time order.
    ``offset_s``: the clock offset that put the swipe at ``t`` (kept so that a later estimate
    knows what the profile is relative to)."""
    lo_t = t - timedelta(seconds=bound_s + max_gap_s)
    hi_t = t + timedelta(seconds=bound_s + max_gap_s)
    i = bisect.bisect_left(observations, lo_t, key=_time)
    j = bisect.bisect_right(observations, hi_t, key=_time)
    epochs = [o.t.timestamp() for o in observations[i:j]]
    base = t.timestamp()
    decoded = coverage([e - base for e in epochs], max_gap_s=max_gap_s)
    visits_rel = _merge((v.start.timestamp() - base, v.end.timestamp() - base) for v in visits
                        if v.end.timestamp() >= base - bound_s and v.start.timestamp() <= base + bound_s)
    # a customer is known only where footage was decoded
    customers = [(max(a, c), min(b, d)) for a, b in visits_rel for c, d in decoded
                 if max(a, c) <= min(b, d)]

    def clip(items: list[Interval]) -> list[list[float]]:
        return [[round(max(a, -bound_s), 2), round(min(b, bound_s), 2)]
                for a, b in items if b >= -bound_s and a <= bound_s]

    return {"customers": clip(customers), "decoded": clip(decoded), "offset_s": round(offset_s, 3)}


@dataclass(frozen=True)
class SwipeProfile:
    """One swipe, relative to its camera time at the offset ``offset_s``."""

    customers: tuple[Interval, ...]
    decoded: tuple[Interval, ...]
    offset_s: float = 0.0

    @classmethod
    def from_seen(cls, seen: Mapping[str, Any]) -> SwipeProfile | None:
        data = seen.get(PROFILE_KEY)
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(tuple((float(a), float(b)) for a, b in data.get("customers", [])),
                       tuple((float(a), float(b)) for a, b in data.get("decoded", [])),
                       float(data.get("offset_s", 0.0)))
        except (TypeError, ValueError):
            return None

    def relative_to(self, offset_s: float) -> SwipeProfile:
        """The same swipe seen from the camera time at another configured offset."""
        shift = self.offset_s - offset_s
        if shift == 0:
            return self
        return SwipeProfile(tuple((a + shift, b + shift) for a, b in self.customers),
                            tuple((a + shift, b + shift) for a, b in self.decoded), offset_s)

    def state(self, delta: float, tolerance: float) -> bool | None:
        """True: a customer within ``tolerance`` of the swipe shifted by ``delta``; False: footage
        there shows none; None: not decoded there."""
        if any(a - tolerance <= delta <= b + tolerance for a, b in self.customers):
            return True
        if any(a <= delta <= b for a, b in self.decoded):
            return False
        return None


# -- phase 2: the estimate -------------------------------------------------------------------------

@dataclass(frozen=True)
class ClockHealth:
    pharmacy_id: str
    counter_id: str
    day: date
    configured_offset_s: float
    best_offset_s: float  # absolute, like configured_offset_s (camera clock minus true time)
    swipes: int  # swipes with a profile
    known_configured: int  # swipes with footage at the configured offset
    agree_configured: int
    known_best: int
    agree_best: int
    runner_up: float | None  # best agreement outside the best fit's peak (its floor when alone)
    confidence: float  # 0..1: not luck (1 - chance) and no alias (runner-up well below the best)
    verdict: ClockVerdict
    runner_up_offset_s: float | None = None  # where the runner-up lies (absolute, like best_offset_s)

    @property
    def agreement_configured(self) -> float | None:
        return self.agree_configured / self.known_configured if self.known_configured else None

    @property
    def agreement_best(self) -> float | None:
        return self.agree_best / self.known_best if self.known_best else None

    def to_json(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {"pharmacy_id": self.pharmacy_id, "counter_id": self.counter_id,
                "day": self.day.isoformat(), "configured_offset_s": self.configured_offset_s,
                "best_offset_s": self.best_offset_s, "swipes": self.swipes,
                "agreement_configured": r(self.agreement_configured),
                "agree_configured": self.agree_configured, "known_configured": self.known_configured,
                "agreement_best": r(self.agreement_best), "agree_best": self.agree_best,
                "known_best": self.known_best, "runner_up": r(self.runner_up),
                "runner_up_offset_s": self.runner_up_offset_s,
                "confidence": r(self.confidence), "verdict": str(self.verdict)}

    def describe(self) -> str:
        """One line for a flag reason (no card data, only counts and offsets)."""
        return (f"camera clock suspect: swipes agree with customer visits at {self.agree_best}/"
                f"{self.known_best} with the clock offset {self.best_offset_s:+g} s, only "
                f"{self.agree_configured}/{self.known_configured} at the configured "
                f"{self.configured_offset_s:+g} s"
                + (f" (or {self.runner_up_offset_s:+g} s, nearly as good)" if self.runner_up_offset_s is not None
                   and self.runner_up is not None and self.agreement_best is not None
                   and self.runner_up >= self.agreement_best - 0.1 else "")
                + "; check the clock (rxaudit clocks) before acting")


def estimate(profiles: Sequence[SwipeProfile], *, pharmacy_id: str, counter_id: str, day: date,
             configured_offset_s: float, options: ClockOptions = ClockOptions()) -> ClockHealth:
    """The offset (configured + delta, |delta| <= max_offset_s) that best aligns swipes with visits.

    Only offsets where at least ``min_swipes`` swipes (and half of those seen at the configured
    offset) have footage compete. The configured offset wins when it fits as well as any; else the
    middle of the best-agreeing plateau nearest to it."""
    o = options
    steps = int(math.floor(o.max_offset_s / o.step_s + 1e-9))
    deltas = [k * o.step_s for k in range(-steps, steps + 1)]
    counts: dict[float, tuple[int, int]] = {}
    for d in deltas:
        states = [p.state(d, o.tolerance_s) for p in profiles]
        counts[d] = (sum(s is True for s in states), sum(s is not None for s in states))
    agree0, known0 = counts[0.0]
    need = max(o.min_swipes, math.ceil(0.5 * known0))
    valid = {d: a / k for d, (a, k) in counts.items() if k >= need}

    def result(best: float, runner_up: float | None, confidence: float,
               verdict: ClockVerdict, runner_up_at: float | None = None) -> ClockHealth:
        a, k = counts[best]
        return ClockHealth(pharmacy_id, counter_id, day, configured_offset_s,
                           round(configured_offset_s + best, 3), len(profiles), known0, agree0, k, a,
                           runner_up, round(confidence, 3), verdict,
                           None if runner_up_at is None else round(configured_offset_s + runner_up_at, 3))

    if known0 < o.min_swipes or 0.0 not in valid:
        return result(0.0, None, 0.0, ClockVerdict.INSUFFICIENT)
    top = max(valid.values())
    best = _best(deltas, valid, top)
    peak = _hill(deltas, valid, best)
    others = {d: v for d, v in valid.items() if d not in peak}
    # no other peak in the searched range: the alternative is the lowest agreement on this one
    runner_up = max(others.values()) if others else min(valid.values())
    runner_up_at = None
    if others:  # the middle of the runner-up's plateau nearest the configured offset
        near = min((d for d, v in others.items() if v >= runner_up - 1e-9), key=lambda d: (abs(d), d))
        plateau = sorted(_run(deltas, others, near, runner_up - 1e-9))
        runner_up_at = plateau[len(plateau) // 2]
    background = statistics.fmean(valid.values())  # the chance a customer stands at a random offset
    gain = top - valid[0.0]
    chance = chance_of_peak(counts[best][0], counts[best][1], background,
                            offsets=len(valid) * o.step_s / o.independent_s)
    # an alias (customers at a steady rhythm fit as well one customer away) makes the offset uncertain
    confidence = (1.0 - chance) * min(1.0, max(0.0, top - runner_up) / o.alias_margin)
    # suspect: far, much better than configured, good, and not a chance maximum: on a busy counter,
    # some offset among many agrees with a few swipes by luck (fraud swipes included); an alias
    # peak one customer away does not lower the verdict: the configured offset is unsupported either way
    suspect = (abs(best) > o.suspect_offset_s and top >= o.min_agreement and gain >= o.min_gain
               and chance <= o.max_chance)
    return result(best, runner_up, confidence, ClockVerdict.SUSPECT if suspect else ClockVerdict.OK,
                  runner_up_at)


def chance_of_peak(agree: int, known: int, background: float, *, offsets: float) -> float:
    """The probability that at least one of ``offsets`` independent offsets agrees with ``agree``
    of ``known`` swipes by chance, when a customer stands there at a random moment with probability
    ``background`` (the mean agreement over the offsets searched, at least 0.05)."""
    if known <= 0:
        return 1.0
    p = min(0.99, max(0.05, background))
    tail = sum(math.comb(known, k) * p ** k * (1 - p) ** (known - k) for k in range(agree, known + 1))
    return min(1.0, 1.0 - (1.0 - tail) ** max(1.0, offsets))


def _run(deltas: Sequence[float], valid: Mapping[float, float], at: float, floor: float) -> set[float]:
    """The contiguous offsets around ``at`` whose agreement stays >= ``floor`` (an offset with too
    little footage breaks the run)."""
    i = deltas.index(at)
    lo = hi = i
    while lo > 0 and valid.get(deltas[lo - 1], -1.0) >= floor:
        lo -= 1
    while hi < len(deltas) - 1 and valid.get(deltas[hi + 1], -1.0) >= floor:
        hi += 1
    return set(deltas[lo:hi + 1])


def _hill(deltas: Sequence[float], valid: Mapping[float, float], at: float) -> set[float]:
    """The best fit's peak: from ``at`` outwards while agreement does not rise again (its shoulders
    included), up to an offset with too little footage. What lies beyond is another peak."""
    i = deltas.index(at)
    lo = hi = i
    while lo > 0 and deltas[lo - 1] in valid and valid[deltas[lo - 1]] <= valid[deltas[lo]] + 1e-9:
        lo -= 1
    while (hi < len(deltas) - 1 and deltas[hi + 1] in valid
           and valid[deltas[hi + 1]] <= valid[deltas[hi]] + 1e-9):
        hi += 1
    return set(deltas[lo:hi + 1])


def _best(deltas: Sequence[float], valid: Mapping[float, float], top: float) -> float:
    """The configured offset when it fits as well as any; else the middle of the plateau of top
    agreement nearest to it."""
    if valid[0.0] >= top - 1e-9:
        return 0.0
    nearest = min((d for d, v in valid.items() if v >= top - 1e-9), key=lambda d: (abs(d), d))
    plateau = sorted(_run(deltas, valid, nearest, top - 1e-9))
    return plateau[len(plateau) // 2]


# -- wiring helpers (pure) -------------------------------------------------------------------------

def local_day(s: Settlement, tz) -> date:
    return s.settled_at.astimezone(tz).date()


def assess(settlements: Sequence[Settlement], seen_of: Mapping[str, Mapping[str, Any]], cameras=None,
           options: ClockOptions = ClockOptions()) -> dict[tuple[str, str, date], ClockHealth]:
    """Clock health of every counter and local day from the swipes' stored profiles. ``cameras``:
    the configured offsets and time zones now; None: the offsets each profile was made with (the
    most common one per counter-day) and the default time zone."""
    from ingest.cameras import CamerasConfig

    config = cameras or CamerasConfig()
    groups: dict[tuple[str, str, date], list[SwipeProfile]] = {}
    for s in settlements:
        profile = SwipeProfile.from_seen(seen_of.get(s.settlement_id, {}))
        if profile is None:
            continue
        tz = config.business_hours(s.pharmacy_id)[2]
        groups.setdefault((s.pharmacy_id, s.counter_id, local_day(s, tz)), []).append(profile)
    out = {}
    for key, profiles in sorted(groups.items()):
        if cameras is not None:
            configured = cameras.counter(key[0], key[1]).clock_offset_s
        else:
            configured = Counter(p.offset_s for p in profiles).most_common(1)[0][0]
        out[key] = estimate([p.relative_to(configured) for p in profiles], pharmacy_id=key[0],
                            counter_id=key[1], day=key[2], configured_offset_s=configured, options=options)
    return out


def mark_suspect_flags(results: Sequence[CheckResult], health: Mapping[tuple[str, str, date], ClockHealth],
                       cameras, options: ClockOptions = ClockOptions()) -> list[CheckResult]:
    """no_customer flags on a suspect counter-day say so in their reason and score lower; every
    other flag and result is returned unchanged."""
    out = []
    for r in results:
        s = r.settlement
        h = health.get((s.pharmacy_id, s.counter_id, local_day(s, cameras.business_hours(s.pharmacy_id)[2])))
        if h is None or h.verdict != ClockVerdict.SUSPECT or not any(
                f.kind == FlagKind.NO_CUSTOMER for f in r.flags):
            out.append(r)
            continue
        flags = tuple(_lowered(f, h, options) if f.kind == FlagKind.NO_CUSTOMER else f for f in r.flags)
        out.append(replace(r, flags=flags))
    return out


def _lowered(flag: Flag, h: ClockHealth, options: ClockOptions) -> Flag:
    return replace(flag, score=round(flag.score * options.suspect_score_factor, 3),
                   reason=f"{flag.reason}; {h.describe()}")


def review(results: Sequence[CheckResult], cameras, options: ClockOptions = ClockOptions()
           ) -> tuple[list[CheckResult], dict[tuple[str, str, date], ClockHealth]]:
    """Phase 2 hook: clock health of every counter-day of the batch from the results' profiles;
    no_customer flags on suspect counter-days marked (reason) and scored lower."""
    health = assess([r.settlement for r in results], {r.settlement.settlement_id: r.seen for r in results},
                    cameras, options)
    return mark_suspect_flags(results, health, cameras, options), health


def suspect_summary(health: Mapping[tuple[str, str, date], ClockHealth]) -> list[str]:
    """'PH1/C1 2026-11-20: best fit +40 s, configured +0 s' for each suspect counter-day."""
    return [f"{h.pharmacy_id}/{h.counter_id} {h.day.isoformat()}: best fit {h.best_offset_s:+g} s, "
            f"configured {h.configured_offset_s:+g} s" for h in health.values()
            if h.verdict == ClockVerdict.SUSPECT]
