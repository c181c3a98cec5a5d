"""What each sample customer buys and what lies on the counter around each swipe.

A normal sale: 1-2 drugs on the counter, billed as those drugs, and the card (or a phone with the
e-voucher) on the customer's side at the swipe. Goods swaps bill covered drugs for snacks, drinks or
cosmetics; an empty-counter swipe has the card on the cashier's side. The item catalogue of the
bundle (``item_catalogue.csv``) says which codes are covered drugs and which are other goods.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sample_footage.scene import DESK_TOP, CounterItem

DRUGS = [("86900001", "阿莫西林胶囊 0.25g*24"), ("86900002", "布洛芬缓释胶囊 0.3g*20"),
         ("86900003", "复方感冒灵颗粒 10g*9"), ("86900004", "氯雷他定片 10mg*6"),
         ("86900005", "二甲双胍缓释片 0.5g*30")]
OTHER_GOODS = {"snack_bag": ("69010001", "薯片 75g"), "drink_bottle": ("69010002", "矿泉水 550ml"),
               "can": ("69010003", "可乐 330ml"), "cosmetic_jar": ("69010004", "保湿面霜 50g"),
               "cosmetic_tube": ("69010005", "洗面奶 100g"), "daily_box": ("69010006", "牙膏 120g")}
DRUG_VARIANTS = ("drug_box", "blister", "pill_bottle")
# width in pixels of each variant lying on the counter (a card is ~36 px, a drug box ~50 px)
WIDTH = {"card": 36, "phone": 24, "drug_box": 50, "blister": 44, "pill_bottle": 24, "snack_bag": 48,
         "drink_bottle": 22, "can": 22, "cosmetic_jar": 36, "cosmetic_tube": 56, "daily_box": 64}
UPRIGHT = ("drink_bottle", "can", "pill_bottle")  # stand on the counter: never turned
STAFF_X = (470, 600)  # the cashier's side of the counter (outside the customer zone)


@dataclass
class Line:
    item_code: str
    item_name: str
    quantity: int
    unit_price: str
    category: str  # covered | other


def catalogue_rows() -> list[list[str]]:
    rows = [["item_code", "item_name", "category"]]
    rows += [[code, name, "covered"] for code, name in DRUGS]
    rows += [[code, name, "other"] for code, name in OTHER_GOODS.values()]
    return rows


class Baskets:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.occupied: list[CounterItem] = []  # what already lies on this counter (one cluster)

    def _item(self, variant: str, x: float, at: float, before: float, after: float) -> CounterItem:
        y = self.rng.uniform(DESK_TOP + 20, DESK_TOP + 44)
        angle = self.rng.uniform(-12, 12) if variant not in UPRIGHT else 0.0
        width = WIDTH[variant] * self.rng.uniform(0.9, 1.15)
        return CounterItem(variant, self.rng.randrange(1 << 30), x, y, width, angle, at - before, at + after)

    def _row(self, variants: list[str], x: float, at: float) -> list[CounterItem]:
        """Goods laid out side by side in front of the customer, from 5 s before to 3 s after, beside
        (never on top of) goods of another sale still on the counter."""
        span = sum(WIDTH[v] + 14 for v in variants)
        left = max(30.0, min(x - span / 2, 400 - span))
        busy = [i for i in self.occupied if i.start <= at + 3.0 and at - 5.0 <= i.end]
        if busy:
            left = max(i.x + i.width / 2 for i in busy) + 14
        items = []
        for v in variants:
            items.append(self._item(v, left + WIDTH[v] / 2, at, 5.0, 3.0))
            left += WIDTH[v] + 14
        self.occupied += items
        return items

    def payment(self, x: float, at: float, *, staff_side: bool = False, cards: int = 1) -> list[CounterItem]:
        """The card(s) or phone shown at the swipe, on the customer's side (right of the goods
        already on the counter) or on the cashier's side."""
        if staff_side:
            return [self._item("card", self.rng.uniform(*STAFF_X), at, 2.0, 2.0)]
        busy = [i for i in self.occupied if i.start <= at + 2.0 and at - 2.0 <= i.end]
        start = max([x + 50] + [i.x + i.width / 2 + 14 + WIDTH["card"] / 2 for i in busy])
        variant = "phone" if cards == 1 and self.rng.random() < 0.3 else "card"
        items = [self._item(variant, start + (WIDTH[variant] + 10) * k, at, 2.0, 2.0) for k in range(cards)]
        self.occupied += items
        return items

    def drugs(self, n: int) -> tuple[list[str], list[Line]]:
        variants = [self.rng.choice(DRUG_VARIANTS) for _ in range(n)]
        lines = []
        for code, name in self.rng.sample(DRUGS, n):
            lines.append(Line(code, name, 1, f"{self.rng.randint(800, 9000) / 100:.2f}", "covered"))
        return variants, lines

    def normal(self, x: float, at: float, n: int | None = None, cards: int = 1) -> tuple[list[CounterItem], list[Line]]:
        variants, lines = self.drugs(n or self.rng.choice([1, 1, 2]))
        return self._row(variants, x, at) + self.payment(x, at, cards=cards), lines

    def empty_counter(self, at: float) -> tuple[list[CounterItem], list[Line]]:
        """Nobody there: the cashier swipes a card they hold; a drug is billed."""
        _, lines = self.drugs(1)
        return self.payment(0.0, at, staff_side=True), lines

    def swap(self, x: float, at: float) -> tuple[list[CounterItem], list[Line]]:
        """Snacks, drinks or cosmetics on the counter; covered drugs on the bill."""
        shown = self.rng.sample(sorted(OTHER_GOODS), self.rng.choice([1, 2]))
        _, lines = self.drugs(len(shown))
        return self._row(shown, x, at) + self.payment(x, at), lines

    def excess(self, x: float, at: float) -> tuple[list[CounterItem], list[Line]]:
        """Four drugs handed over, one billed."""
        variants = ["drug_box", "drug_box", "blister", "drug_box"]
        _, lines = self.drugs(1)
        return self._row(variants, x, at) + self.payment(x, at), lines

    def mixed(self, x: float, at: float) -> tuple[list[CounterItem], list[Line]]:
        """A drug and a non-covered item, each billed under its own category: clean."""
        other = self.rng.choice(sorted(OTHER_GOODS))
        variants, lines = self.drugs(1)
        code, name = OTHER_GOODS[other]
        lines.append(Line(code, name, 1, f"{self.rng.randint(300, 3000) / 100:.2f}", "other"))
        return self._row(variants + [other], x, at) + self.payment(x, at), lines
