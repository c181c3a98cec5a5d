"""Stocked counters (``rxaudit sample --stocked``): goods of the pharmacy's own on the counter.

Many pharmacy counters are glass display cases: boxes of drugs, cosmetics and health goods lie
under the glass top in view of the camera all day. And goods lie on the counter top before a
customer comes: a basket of throat sweets, drinks on offer, a bag left there. None of them are
the customer's purchase. A stocked counter shows both:

- ``display``: 3-5 goods under a glass top on the cashier's side of the counter (``DISPLAY_ZONE``,
  which the bundle's cameras.yaml names as the counter's ``display_zone``), there all day;
- ``fixtures``: 1-2 non-covered goods lying on the customer's part of the counter top from before
  the first customer came until after the last left (the audit must tell them from what a
  customer brings by seeing the counter before the customer arrived).

Stocking draws from its own random stream, so a seed's day is the same with or without it.
"""

from __future__ import annotations

import random

from sample_footage.baskets import OTHER_GOODS, UPRIGHT, WIDTH
from sample_footage.scene import DESK_TOP, DISPLAY_X, DISPLAY_Y, CounterItem

DISPLAYED = ("drug_box", "blister", "cosmetic_jar", "cosmetic_tube", "daily_box", "pill_bottle")
FIXTURE_X = (36.0, 110.0)  # where the goods left lying are (left of where customers lay theirs)
ALL_DAY = (-1e5, 1e5)


def stock(rng: random.Random) -> tuple[tuple[CounterItem, ...], tuple[CounterItem, ...]]:
    """(display, fixtures) of one counter."""
    display = []
    n = rng.randint(3, 5)
    step = (DISPLAY_X[1] - DISPLAY_X[0] - 40) / n
    for k in range(n):
        variant = rng.choice(DISPLAYED)
        x = DISPLAY_X[0] + 20 + step * (k + 0.5) + rng.uniform(-4, 4)
        y = rng.uniform(DISPLAY_Y[0] + 16, DISPLAY_Y[1] - 18)
        angle = 0.0 if variant in UPRIGHT else rng.uniform(-8, 8)
        width = min(step - 6, WIDTH[variant] * rng.uniform(0.9, 1.1))
        display.append(CounterItem(variant, rng.randrange(1 << 30), x, y, width, angle, *ALL_DAY))
    fixtures = []
    x = FIXTURE_X[0]
    for _ in range(rng.randint(1, 2)):
        variant = rng.choice(sorted(OTHER_GOODS))
        width = WIDTH[variant] * rng.uniform(0.9, 1.1)
        if x + width / 2 > FIXTURE_X[1] + 40:
            break
        angle = 0.0 if variant in UPRIGHT else rng.uniform(-10, 10)
        fixtures.append(CounterItem(variant, rng.randrange(1 << 30), x + width / 2,
                                    rng.uniform(DESK_TOP + 22, DESK_TOP + 40), width, angle, *ALL_DAY))
        x += width + 14
    return tuple(display), tuple(fixtures)
