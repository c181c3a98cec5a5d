"""The day a sample bundle shows: clusters of events at counters, each with the flags it must get.

Every seed draws different pharmacy ids, times, cards, amounts and positions, over the same kinds of
situation: busy counters with a queue, a family paying with two cards, an empty-counter swipe, a
burst of empty swipes, one customer with three cards, one face with three cards across pharmacies,
a duplicate charge, an off-hours sale, and footage that is missing, corrupt or was never recorded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sample_footage.baskets import Baskets, Line
from sample_footage.scene import Appearance, CounterItem
from sample_footage.stocked import stock

TZ = timezone(timedelta(hours=8))


@dataclass
class PlannedSettlement:
    settlement_id: str
    rel_t: float  # seconds after the cluster start (true clock)
    card_id: str
    amount: str
    expect: set[str] = field(default_factory=set)
    basket: str = "normal"  # normal | single | pooled | swap | excess | mixed (see sample_footage.baskets)
    lines: list[Line] = field(default_factory=list)
    shown: list[CounterItem] = field(default_factory=list)
    scenario: str = ""  # the planned case, listed in expected.json "scenarios" (e.g. short_gap)


@dataclass
class Cluster:
    pharmacy_id: str
    counter_id: str
    start: datetime  # true clock
    duration: float
    people: list[Appearance]
    settlements: list[PlannedSettlement]
    footage: str = "ok"  # ok | missing | corrupt | unknown_counter
    extra_lead_s: float = 0.0  # footage recorded this much longer either side (a wrong clock)
    # a stocked counter (sample_footage.stocked): goods under its glass top, goods lying there all along
    display: tuple[CounterItem, ...] = ()
    fixtures: tuple[CounterItem, ...] = ()

    @property
    def items(self) -> tuple[CounterItem, ...]:
        return self.fixtures + tuple(item for s in self.settlements for item in s.shown)


class Planner:
    def __init__(self, seed: int, attempt: int = 0, *, stocked: bool = False) -> None:
        self.seed, self.attempt, self.stocked = seed, attempt, stocked
        # attempt 0 draws from the seed itself (so a seed gives the same day as before re-planning
        # existed); a re-plan draws from a sub-seed derived from the seed and the attempt
        self.rng = random.Random(seed if attempt == 0 else f"sample-{seed}-replan-{attempt}")
        self.day = date(2026, 11, 2) + timedelta(days=self.rng.randint(0, 25))
        self.pharmacies = [f"PH{n}" for n in self.rng.sample(range(100, 999), 3)]
        self._ids = self.rng.sample(range(100000, 999999), 200)
        self.clusters: list[Cluster] = []
        # camera clock minus true time, per (pharmacy, counter): configured in cameras.yaml, and
        # wrong without anyone knowing (the camera is off by it, cameras.yaml says nothing)
        self.configured_offsets: dict[tuple[str, str], float] = {}
        self.unknown_offsets: dict[tuple[str, str], float] = {}

    def sid(self) -> str:
        return f"ST{self._ids.pop()}"

    def card(self) -> str:
        return "".join(str(self.rng.randint(0, 9)) for _ in range(18))

    def amount(self) -> str:
        return f"{self.rng.randint(800, 46000) / 100:.2f}"

    def at(self, hour: int, minute_span: tuple[int, int] = (0, 50)) -> datetime:
        minute = self.rng.randint(*minute_span)
        return datetime(self.day.year, self.day.month, self.day.day, hour, minute,
                        self.rng.randint(0, 59), tzinfo=TZ)

    def x(self) -> float:
        return self.rng.uniform(150, 300)

    def pay(self, arrive: float, leave: float, card: str, expect: set[str] | None = None,
            amount: str | None = None) -> PlannedSettlement:
        """A swipe while a customer stands at the counter (well after arrival, before leaving)."""
        t = self.rng.uniform(arrive + 6, max(arrive + 6.5, leave - 6))
        return PlannedSettlement(self.sid(), t, card, amount or self.amount(), expect or set())

    def add(self, *args, **kwargs) -> Cluster:
        cluster = Cluster(*args, **kwargs)
        self.clusters.append(cluster)
        return cluster

    def plan(self) -> list[Cluster]:
        a, b, c = self.pharmacies
        cards = {name: self.card() for name in ("F", "K", "W1", "W2", "X", "M1", "M2", "M3", "W3")}

        # Busy counter: three customers, the next queueing behind and stepping forward.
        t0, d1, d2, d3 = 20.0, self.rng.uniform(20, 26), self.rng.uniform(18, 24), self.rng.uniform(22, 28)
        x = self.x()
        female = Appearance("female", t0, t0 + d1, x)
        step2 = t0 + d1 - 0.5
        cls = Appearance("class_right", t0 + 8, step2 + d2, x + 110, depth=0.8,
                         step_forward_at=step2, front_x=x)
        step3 = step2 + d2 - 0.5
        woman = Appearance("aisle_woman", step2 + 6, step3 + d3, x + 120, depth=0.9,
                           step_forward_at=step3, front_x=x)
        pays = [
            self.pay(t0 + 1, t0 + d1 - WALK_BACK, cards["F"]),
            self.pay(step2 + 1.5, step2 + d2 - WALK_BACK, cards["K"]),
        ]
        family = self.pay(step3 + 1.5, step3 + d3 - 8, cards["W1"])  # family: two cards, normal
        pays += [family, PlannedSettlement(self.sid(), family.rel_t + 4, cards["W2"], self.amount())]
        family.basket = pays[-1].basket = "single"  # two cards, one bag: one drug each
        self.add(a, "C1", self.at(9), step3 + d3 + 20, [female, cls, woman], pays)

        # Pooling (b): one face, three distinct cards, three pharmacies.
        for pharmacy, counter, hour, card in ((a, "C1", 10, "M1"), (b, "C2", 15, "M2"), (c, "C1", 16, "M3")):
            stay = self.rng.uniform(18, 26)
            man = Appearance("male", 15, 15 + stay, self.x())
            self.add(pharmacy, counter, self.at(hour), stay + 35, [man],
                     [self.pay(15, 15 + stay, cards[card], {"card_pooling"})])

        # A customer, then an empty-counter swipe well after he left.
        stay = self.rng.uniform(18, 24)
        worker = Appearance("worker", 15, 15 + stay, self.x())
        empty = PlannedSettlement(self.sid(), 15 + stay + self.rng.uniform(18, 28), self.card(),
                                  self.amount(), {"no_customer"})
        self.add(a, "C2", self.at(10), empty.rel_t + 20,
                 [worker], [self.pay(15, 15 + stay, cards["X"]), empty])

        # Burst: six distinct cards at an empty counter within three minutes.
        burst_times = sorted(self.rng.uniform(15, 165) for _ in range(6))
        burst = [PlannedSettlement(self.sid(), t, self.card(), self.amount(), {"no_customer", "burst"})
                 for t in burst_times]
        self.add(b, "C1", self.at(14), 190, [], burst)

        # Pooling (a): one customer, back to the camera, three cards in one stay.
        stay = self.rng.uniform(44, 55)
        holder = Appearance("aisle_woman", 15, 15 + stay, self.x())
        times = [15 + 8 + k * (stay - 16) / 2 for k in range(3)]
        pooled = [PlannedSettlement(self.sid(), t, self.card(), self.amount(), {"card_pooling"},
                                    basket="pooled") for t in times]
        self.add(b, "C2", self.at(11), stay + 35, [holder], pooled)

        # Duplicate charge: same card, same amount, seconds apart.
        stay = self.rng.uniform(36, 44)
        cls2 = Appearance("class_right", 15, 15 + stay, self.x())
        amount = self.amount()
        first = PlannedSettlement(self.sid(), 23, cards["K"], amount)
        second = PlannedSettlement(self.sid(), 23 + self.rng.uniform(12, stay - 16), cards["K"],
                                   amount, {"duplicate_settlement"})
        self.add(c, "C1", self.at(12), stay + 35, [cls2], [first, second])

        # Off hours (the pharmacy closes at 21:00): a real customer, after closing.
        stay = self.rng.uniform(18, 24)
        late = Appearance("female", 15, 15 + stay, self.x())
        self.add(c, "C1", self.at(21, (20, 50)), stay + 35, [late],
                 [self.pay(15, 15 + stay, cards["F"], {"off_hours"})])

        # A customer on a counter whose clip is truncated: unverifiable, never clean.
        stay = self.rng.uniform(30, 36)
        hurt = Appearance("aisle_woman", 8, 8 + stay, self.x())
        self.add(b, "C1", self.at(16), 58, [hurt],
                 [PlannedSettlement(self.sid(), 8 + stay - 8, cards["W3"], self.amount(),
                                    {"unverifiable"})], footage="corrupt")

        # A clean customer elsewhere, and swipes with no footage at all.
        stay = self.rng.uniform(18, 24)
        self.add(b, "C1", self.at(9), stay + 35, [Appearance("worker", 15, 15 + stay, self.x())],
                 [self.pay(15, 15 + stay, self.card())])
        self.add(a, "C2", self.at(17), 30, [],
                 [PlannedSettlement(self.sid(), 10, self.card(), self.amount(), {"unverifiable"})],
                 footage="missing")
        self.add(c, "C9", self.at(13), 30, [],
                 [PlannedSettlement(self.sid(), 10, self.card(), self.amount(), {"unverifiable"})],
                 footage="unknown_counter")

        # Goods swaps (串换): snacks or cosmetics billed as drugs; four drugs billed as one; and a
        # clean sale of a drug and a non-covered item, each billed under its own category.
        for pharmacy, counter, hour, basket, expect in ((a, "C1", 11, "swap", {"goods_mismatch"}),
                                                        (c, "C1", 15, "swap", {"goods_mismatch"}),
                                                        (b, "C2", 13, "excess", {"goods_mismatch"}),
                                                        (a, "C2", 12, "mixed", set())):
            stay = self.rng.uniform(18, 24)
            # actors whose faces give no identity (class_right's does, and pays with card K already:
            # two swaps by her would be one face at three cards, pooling)
            person = Appearance(self.rng.choice(FACELESS), 15, 15 + stay, self.x())
            sale = self.pay(15, 15 + stay, self.card(), expect)
            sale.basket = basket
            self.add(pharmacy, counter, self.at(hour), stay + 35, [person], [sale])
        self.short_gaps()
        self.clocks()
        if self.stocked:
            self.stock()
        self.dress()
        return self.clusters

    def stock(self) -> None:
        """Every counter with footage stocked (sample_footage.stocked), the same way all day; drawn
        from a stream of its own, so the day is the one the seed gives unstocked."""
        for cluster in self.clusters:
            if cluster.footage in ("missing", "unknown_counter"):
                continue
            rng = random.Random(f"stocked-{self.seed}-{self.attempt}-{cluster.pharmacy_id}-{cluster.counter_id}")
            cluster.display, cluster.fixtures = stock(rng)

    def short_gaps(self) -> None:
        """Empty-counter swipes 2-3 s after a customer leaves, the next arriving ~5 s after."""
        a, _, c = self.pharmacies
        for pharmacy, counter, hour in ((a, "C1", 13), (c, "C1", 10)):
            first, second = self.rng.sample(FACELESS, 2)
            stay = self.rng.uniform(18, 22)
            leave = 15 + stay
            back = leave + self.rng.uniform(5.0, 5.5)
            stay2 = self.rng.uniform(18, 22)
            empty = PlannedSettlement(self.sid(), leave + self.rng.uniform(2.0, 3.0), self.card(),
                                      self.amount(), {"no_customer"}, scenario="short_gap")
            self.add(pharmacy, counter, self.at(hour), back + stay2 + 35,
                     [Appearance(first, 15, leave, self.x()), Appearance(second, back, back + stay2, self.x())],
                     [self.pay(15, leave, self.card()), empty, self.pay(back, back + stay2, self.card())])

    def clocks(self) -> None:
        """A configured clock offset (judged right), and a counter whose camera clock is wrong without
        anyone knowing: twelve customers, one swipe each, 64-70 s apart (decoded as one span; never
        six within the burst window); every swipe lands where nobody stands. Expected: no accusation,
        the counter reported suspect (expected.json "clock_suspect")."""
        _, b, c = self.pharmacies
        self.configured_offsets[(c, "C1")] = self.rng.choice([-1, 1]) * self.rng.uniform(40, 70)
        wrong = self.rng.choice([-1, 1]) * self.rng.uniform(25, 40)
        self.unknown_offsets[(b, "C3")] = wrong
        people, pays = [], []
        arrive = 15.0
        # twelve, not eight: with eight the true offset fits 8/8 but is 2-5 % likely by chance, so
        # clock health (rightly) will not call it suspect; the first or last shifted swipe may fall
        # outside the decoded span
        for _ in range(12):
            stay = self.rng.uniform(20, 26)
            people.append(Appearance(self.rng.choice(FACELESS), arrive,
                                     arrive + stay, self.x()))
            sale = PlannedSettlement(self.sid(), arrive + 10 + self.rng.uniform(0, 2), self.card(),
                                     self.amount(), scenario="clock_unknown", basket="single")
            pays.append(sale)
            arrive += self.rng.uniform(64, 70)
        self.add(b, "C3", self.at(10), people[-1].leave + 35, people, pays, extra_lead_s=abs(wrong) + 12)

    def dress(self) -> None:
        """Give every swipe its billed lines and what lies on the counter around it."""
        baskets = Baskets(self.rng)
        for cluster in self.clusters:
            baskets.occupied = list(cluster.fixtures)  # customers lay their goods beside these
            for s in cluster.settlements:
                front = [w for w in (p.placement(s.rel_t) for p in cluster.people) if w is not None]
                if not front:
                    s.shown, s.lines = baskets.empty_counter(s.rel_t)
                    continue
                x = max(front, key=lambda w: w[2])[0]
                if s.basket == "single":
                    s.shown, s.lines = baskets.normal(x, s.rel_t, n=1)
                elif s.basket == "pooled":
                    s.shown, s.lines = baskets.normal(x, s.rel_t, cards=3)
                elif s.basket in ("swap", "excess", "mixed"):
                    s.shown, s.lines = getattr(baskets, s.basket)(x, s.rel_t)
                else:
                    s.shown, s.lines = baskets.normal(x, s.rel_t)


WALK_BACK = 2.0  # a queued customer pays before the next one steps forward
FACELESS = ["worker", "aisle_woman"]  # actors whose faces the audit never identifies (back, overhead)
