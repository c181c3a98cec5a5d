"""Procedural sprites of what crosses a pharmacy counter: insurance cards, phones showing a QR code,
drugs (boxes, blister packs, pill bottles) and non-covered goods (snacks, drinks, cosmetics, daily
goods). Used twice: to render the detector's training set with domain randomisation, and to put goods
on the counter of the sample bundles.

A sprite is an RGB image and an alpha mask (float 0..1) drawn upright; ``place`` warps, shades and
composites it and returns the box of what stays visible.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from rxaudit.domain import COUNTER_CLASSES

CLASSES = COUNTER_CLASSES  # the counter detector's (rxaudit.domain), in its order
Rgb = tuple[int, int, int]


@dataclass(frozen=True)
class Sprite:
    image: np.ndarray  # H x W x 3 uint8 RGB
    alpha: np.ndarray  # H x W float32 in [0, 1]
    variant: str
    cls: str


def _colour(rng: random.Random, lo: int = 0, hi: int = 255) -> Rgb:
    return (rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi))


def _saturated(rng: random.Random) -> Rgb:
    hue = rng.randint(0, 179)
    hsv = np.uint8([[[hue, rng.randint(170, 255), rng.randint(170, 255)]]])
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def _word(rng: random.Random, n: tuple[int, int] = (4, 10)) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(*n)))


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour: Rgb, thick: int = 1) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)


def _canvas(w: int, h: int, colour: Rgb) -> tuple[np.ndarray, np.ndarray]:
    img = np.empty((h, w, 3), np.uint8)
    img[:] = colour
    return img, np.zeros((h, w), np.float32)


def _rounded(alpha: np.ndarray, x1: int, y1: int, x2: int, y2: int, r: int, value: float = 1.0) -> None:
    cv2.rectangle(alpha, (x1 + r, y1), (x2 - r, y2), value, -1)
    cv2.rectangle(alpha, (x1, y1 + r), (x2, y2 - r), value, -1)
    for cx, cy in ((x1 + r, y1 + r), (x2 - r, y1 + r), (x1 + r, y2 - r), (x2 - r, y2 - r)):
        cv2.circle(alpha, (cx, cy), r, value, -1)


# --- cards and phones -------------------------------------------------------------------------

def card(rng: random.Random) -> Sprite:
    """A social-security card (ISO ID-1, 85.6 x 54 mm): coloured face, chip, photo, text lines."""
    w = 172
    h = 108
    base = rng.choice([(30, 90, 170), (20, 120, 160), (40, 140, 90), (200, 60, 50), _colour(rng, 40, 230)])
    img, alpha = _canvas(w, h, base)
    top = tuple(min(255, c + rng.randint(30, 90)) for c in base)
    for y in range(h):  # a vertical gradient like printed cards
        k = y / h
        img[y] = [int(top[i] * (1 - k) + base[i] * k) for i in range(3)]
    _rounded(alpha, 0, 0, w - 1, h - 1, 9)
    if rng.random() < 0.85:  # chip
        cx, cy = rng.choice([(18, 40), (110, 40)])
        cv2.rectangle(img, (cx, cy), (cx + 26, cy + 20), (212, 175, 80), -1)
        cv2.line(img, (cx + 13, cy), (cx + 13, cy + 20), (150, 120, 50), 1)
        cv2.line(img, (cx, cy + 10), (cx + 26, cy + 10), (150, 120, 50), 1)
    if rng.random() < 0.7:  # photo
        cv2.rectangle(img, (w - 46, 30), (w - 10, 78), (220, 220, 220), -1)
        cv2.circle(img, (w - 28, 48), 9, (120, 110, 100), -1)
    for k in range(rng.randint(1, 4)):
        _text(img, _word(rng), (10, 20 + 24 * k if k else 20), 0.4, (255, 255, 255))
    cv2.rectangle(img, (8, h - 16), (8 + rng.randint(60, 110), h - 10), (240, 240, 240), -1)
    return Sprite(img, alpha, "card", "card")


def _qr(rng: random.Random, size: int) -> np.ndarray:
    n = 21
    bits = np.array([[rng.random() < 0.5 for _ in range(n)] for _ in range(n)], np.uint8)
    for ox, oy in ((0, 0), (n - 7, 0), (0, n - 7)):  # finder patterns
        bits[oy:oy + 7, ox:ox + 7] = 1
        bits[oy + 1:oy + 6, ox + 1:ox + 6] = 0
        bits[oy + 2:oy + 5, ox + 2:ox + 5] = 1
    img = np.where(bits[..., None] == 1, 0, 255).astype(np.uint8).repeat(3, axis=2)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)


def phone(rng: random.Random) -> Sprite:
    """A phone held up with the e-voucher QR code (or a payment screen) showing."""
    w, h = 90, 180
    body = rng.choice([(20, 20, 25), (200, 200, 205), (60, 60, 70), _colour(rng, 0, 255)])
    img, alpha = _canvas(w, h, body)
    _rounded(alpha, 0, 0, w - 1, h - 1, 12)
    screen = rng.choice([(250, 250, 250), (60, 170, 100), (40, 120, 220)])
    cv2.rectangle(img, (5, 12), (w - 6, h - 12), screen, -1)
    q = 58
    panel = (255, 255, 255)
    cv2.rectangle(img, (w // 2 - q // 2 - 5, 55), (w // 2 + q // 2 + 5, 55 + q + 10), panel, -1)
    img[60:60 + q, w // 2 - q // 2:w // 2 - q // 2 + q] = _qr(rng, q)
    cv2.rectangle(img, (12, 20), (w - 12, 30), (0, 0, 0) if screen[0] > 200 else (255, 255, 255), -1)
    return Sprite(img, alpha, "phone", "phone")


# --- drugs ------------------------------------------------------------------------------------

def drug_box(rng: random.Random) -> Sprite:
    """A drug carton: white/pale printed face with a coloured band, a name, a dose, often 'OTC'/'Rx'."""
    w, h = rng.randint(110, 170), rng.randint(60, 100)
    side = rng.randint(10, 22)  # the carton's top face seen from above the counter
    img, alpha = _canvas(w, h + side, (250, 250, 250))
    paper = rng.choice([(250, 250, 250), (245, 245, 235), (235, 240, 250), _colour(rng, 200, 255)])
    band = _saturated(rng)
    img[side:] = paper
    img[:side] = [int(c * 0.8) for c in paper]
    alpha[:] = 1.0
    by = side + rng.randint(0, h // 3)
    cv2.rectangle(img, (0, by), (w, by + rng.randint(10, 22)), band, -1)
    if rng.random() < 0.5:
        cv2.rectangle(img, (w - 22, side), (w, side + h), band, -1)
    _text(img, _word(rng, (5, 11)), (6, side + h - 26), 0.45, (20, 20, 20), 1)
    _text(img, f"{rng.choice([0.1, 0.25, 0.3, 0.5, 10, 20])}{rng.choice(['g', 'mg'])}x{rng.randint(6, 48)}",
          (6, side + h - 8), 0.4, band, 1)
    if rng.random() < 0.6:
        mark = rng.choice(["OTC", "Rx"])
        cv2.ellipse(img, (w - 34, side + 16), (16, 9), 0, 0, 360, (200, 30, 30) if mark == "Rx" else (30, 150, 60), -1)
        _text(img, mark, (w - 46, side + 21), 0.35, (255, 255, 255))
    return Sprite(img, alpha, "drug_box", "drug")


def blister(rng: random.Random) -> Sprite:
    """A blister pack: silver foil with rows of pills under clear bubbles."""
    cols, rows = rng.randint(3, 6), rng.randint(2, 3)
    cell = rng.randint(20, 26)
    w, h = cols * cell + 12, rows * cell + 12
    foil = rng.choice([(200, 200, 205), (185, 190, 200), (215, 210, 190)])
    img, alpha = _canvas(w, h, foil)
    alpha[:] = 1.0
    pill = rng.choice([(250, 250, 250), (240, 200, 80), (220, 90, 90), (120, 170, 230)])
    oval = rng.random() < 0.5
    for r in range(rows):
        for c in range(cols):
            cx, cy = 6 + c * cell + cell // 2, 6 + r * cell + cell // 2
            if oval:
                cv2.ellipse(img, (cx, cy), (cell // 2 - 3, cell // 3 - 1), 0, 0, 360, pill, -1)
            else:
                cv2.circle(img, (cx, cy), cell // 2 - 4, pill, -1)
            cv2.circle(img, (cx - 3, cy - 3), 2, (255, 255, 255), -1)
    for x in range(0, w, cell):
        cv2.line(img, (x + 6, 0), (x + 6, h), [c - 25 for c in foil], 1)
    return Sprite(img, alpha, "blister", "drug")


def pill_bottle(rng: random.Random) -> Sprite:
    """A squat medicine bottle: white or amber, a wide cap, a printed label."""
    w, h = rng.randint(50, 70), rng.randint(70, 100)
    body = rng.choice([(245, 245, 245), (180, 100, 30), (235, 235, 225)])
    img, alpha = _canvas(w, h, body)
    cap_h = h // 5
    cv2.rectangle(alpha, (4, cap_h), (w - 5, h - 1), 1.0, -1)
    cv2.rectangle(alpha, (7, 0), (w - 8, cap_h), 1.0, -1)
    cv2.rectangle(img, (7, 0), (w - 8, cap_h), rng.choice([(250, 250, 250), (30, 90, 170), (200, 40, 40)]), -1)
    ly1, ly2 = cap_h + h // 6, h - h // 6
    cv2.rectangle(img, (4, ly1), (w - 5, ly2), (250, 250, 245), -1)
    cv2.rectangle(img, (4, ly1), (w - 5, ly1 + 8), _saturated(rng), -1)
    _text(img, _word(rng, (3, 6)), (7, ly2 - 6), 0.3, (30, 30, 30))
    img[:, :6] = (img[:, :6] * 0.75).astype(np.uint8)  # a little cylinder shading
    return Sprite(img, alpha, "pill_bottle", "drug")


# --- non-covered goods -------------------------------------------------------------------------

def snack_bag(rng: random.Random) -> Sprite:
    """A crinkled snack bag: saturated print, a big logo, a serrated top and bottom."""
    w, h = rng.randint(90, 140), rng.randint(110, 170)
    main = _saturated(rng)
    img, alpha = _canvas(w, h, main)
    pts = [(0, 6)] + [(x, 0 if (x // 6) % 2 else 6) for x in range(0, w, 6)] + [(w - 1, 6), (w - 1, h - 7)]
    pts += [(x, h - 1 if (x // 6) % 2 else h - 7) for x in range(w - 1, 0, -6)] + [(0, h - 7)]
    cv2.fillPoly(alpha, [np.array(pts, np.int32)], 1.0)
    cv2.circle(img, (w // 2, h // 2), min(w, h) // 4, _saturated(rng), -1)
    _text(img, _word(rng, (3, 6)), (8, h // 4), 0.6, (255, 255, 255), 2)
    for _ in range(3):  # crinkle highlights
        x = rng.randint(5, w - 5)
        cv2.line(img, (x, 8), (x + rng.randint(-10, 10), h - 8), [min(255, c + 60) for c in main], 2)
    return Sprite(img, alpha, "snack_bag", "non_covered")


def drink_bottle(rng: random.Random) -> Sprite:
    """A drink bottle: clear or coloured plastic, a narrow neck, a cap, often a label."""
    w, h = rng.randint(44, 62), rng.randint(130, 190)
    clear = rng.random() < 0.5
    liquid = rng.choice([(170, 200, 225), (200, 220, 235), (230, 150, 50), (120, 60, 40), (210, 60, 60)])
    img, alpha = _canvas(w, h, liquid)
    neck_w, neck_h, cap_h = w // 3, h // 6, h // 14
    shoulder = neck_h + cap_h + h // 10
    cv2.rectangle(alpha, ((w - neck_w) // 2, 0), ((w + neck_w) // 2, shoulder), 1.0, -1)
    cv2.fillPoly(alpha, [np.array([((w - neck_w) // 2, neck_h + cap_h), ((w + neck_w) // 2, neck_h + cap_h),
                                   (w - 1, shoulder), (0, shoulder)], np.int32)], 1.0)
    cv2.rectangle(alpha, (0, shoulder), (w - 1, h - 1), 1.0, -1)
    cv2.rectangle(img, ((w - neck_w) // 2 - 1, 0), ((w + neck_w) // 2 + 1, cap_h), _saturated(rng), -1)
    if clear:
        alpha *= rng.uniform(0.45, 0.7)
        alpha[:cap_h + 1] = np.where(alpha[:cap_h + 1] > 0, 1.0, 0.0)
        cv2.line(img, (w // 4, shoulder), (w // 4, h - 8), (250, 250, 255), 2)
    if not clear or rng.random() < 0.5:
        ly = shoulder + rng.randint(10, 30)
        cv2.rectangle(img, (0, ly), (w - 1, ly + h // 4), _saturated(rng), -1)
        if alpha[ly + 2, w // 2] < 1.0:
            alpha[ly:ly + h // 4] = np.where(alpha[ly:ly + h // 4] > 0, 1.0, 0.0)
        _text(img, _word(rng, (2, 4)), (3, ly + h // 8 + 4), 0.35, (255, 255, 255))
    return Sprite(img, alpha, "drink_bottle", "non_covered")


def can(rng: random.Random) -> Sprite:
    w, h = rng.randint(44, 56), rng.randint(80, 100)
    colour = _saturated(rng)
    img, alpha = _canvas(w, h, colour)
    alpha[:] = 1.0
    cv2.rectangle(img, (0, 0), (w, 6), (190, 190, 195), -1)
    cv2.rectangle(img, (0, h - 5), (w, h), (170, 170, 175), -1)
    cv2.line(img, (w // 3, 8), (w // 3, h - 6), (255, 255, 255), 2)
    _text(img, _word(rng, (2, 4)), (4, h // 2), 0.4, (255, 255, 255), 1)
    return Sprite(img, alpha, "can", "non_covered")


def cosmetic_tube(rng: random.Random) -> Sprite:
    """A cosmetics tube lying down: pastel or metallic, tapered, with a cap."""
    w, h = rng.randint(120, 170), rng.randint(30, 44)
    colour = rng.choice([(250, 200, 210), (235, 235, 240), (200, 230, 250), (40, 40, 40), _colour(rng, 150, 255)])
    img, alpha = _canvas(w, h, colour)
    cap = rng.randint(18, 30)
    cv2.fillPoly(alpha, [np.array([(0, 0), (w - cap, h // 6), (w - cap, h - h // 6), (0, h - 1)], np.int32)], 1.0)
    cv2.rectangle(alpha, (w - cap, h // 5), (w - 1, h - h // 5), 1.0, -1)
    cv2.rectangle(img, (w - cap, 0), (w, h), rng.choice([(230, 180, 60), (30, 30, 30), (250, 250, 250)]), -1)
    cv2.rectangle(img, (0, 0), (6, h), [int(c * 0.7) for c in colour], -1)
    _text(img, _word(rng, (3, 7)), (14, h // 2 + 5), 0.45, _saturated(rng), 1)
    return Sprite(img, alpha, "cosmetic_tube", "non_covered")


def cosmetic_jar(rng: random.Random) -> Sprite:
    w, h = rng.randint(70, 100), rng.randint(50, 70)
    glass = rng.choice([(250, 240, 245), (220, 235, 250), (40, 40, 50), _colour(rng, 150, 255)])
    img, alpha = _canvas(w, h, glass)
    lid = h // 3
    cv2.rectangle(alpha, (0, lid), (w - 1, h - 1), 1.0, -1)
    cv2.rectangle(alpha, (3, 0), (w - 4, lid), 1.0, -1)
    cv2.rectangle(img, (3, 0), (w - 4, lid), rng.choice([(220, 180, 70), (250, 250, 250), (200, 80, 120)]), -1)
    cv2.ellipse(img, (w // 2, lid + (h - lid) // 2), (w // 3, (h - lid) // 4), 0, 0, 360, _saturated(rng), 1)
    return Sprite(img, alpha, "cosmetic_jar", "non_covered")


def daily_box(rng: random.Random) -> Sprite:
    """Daily goods in a long box (toothpaste, tissues): bold print, a long aspect."""
    w, h = rng.randint(160, 210), rng.randint(34, 50)
    main = _saturated(rng)
    img, alpha = _canvas(w, h, main)
    alpha[:] = 1.0
    cv2.rectangle(img, (0, h // 2), (w, h), (250, 250, 250), -1)
    cv2.circle(img, (w // 5, h // 2), h // 3, (255, 255, 255), -1)
    _text(img, _word(rng, (4, 8)), (w // 3, h // 2 - 3), 0.5, (255, 255, 255), 2)
    return Sprite(img, alpha, "daily_box", "non_covered")


MAKERS: dict[str, Callable[[random.Random], Sprite]] = {
    "card": card, "phone": phone,
    "drug_box": drug_box, "blister": blister, "pill_bottle": pill_bottle,
    "snack_bag": snack_bag, "drink_bottle": drink_bottle, "can": can,
    "cosmetic_tube": cosmetic_tube, "cosmetic_jar": cosmetic_jar, "daily_box": daily_box,
}
VARIANT_CLASS = {v: f(random.Random(0)).cls for v, f in MAKERS.items()}
VARIANTS_BY_CLASS = {cls: tuple(v for v, c in VARIANT_CLASS.items() if c == cls) for cls in CLASSES}


def make(variant: str, rng: random.Random) -> Sprite:
    try:
        return MAKERS[variant](rng)
    except KeyError:
        raise ValueError(f"unknown goods variant {variant!r}; known: {', '.join(MAKERS)}") from None


def place(canvas: np.ndarray, sprite: Sprite, cx: float, cy: float, width: float, *,
          angle: float = 0.0, tilt: float = 1.0, light: float = 1.0) -> tuple[float, float, float, float] | None:
    """Composite ``sprite`` centred at (cx, cy), ``width`` pixels wide, rotated by ``angle`` degrees
    and squashed vertically by ``tilt`` (a counter seen from above); returns the visible box."""
    h0, w0 = sprite.alpha.shape
    scale = width / w0
    sw, sh = max(2, int(w0 * scale)), max(2, int(h0 * scale * tilt))
    img = cv2.resize(sprite.image, (sw, sh), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(sprite.alpha, (sw, sh), interpolation=cv2.INTER_AREA)
    if angle:
        diag = int(np.hypot(sw, sh)) + 2
        m = cv2.getRotationMatrix2D((sw / 2, sh / 2), angle, 1.0)
        m[0, 2] += (diag - sw) / 2
        m[1, 2] += (diag - sh) / 2
        img = cv2.warpAffine(img, m, (diag, diag), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(alpha, m, (diag, diag), flags=cv2.INTER_LINEAR)
        sh, sw = alpha.shape
    x1, y1 = int(round(cx - sw / 2)), int(round(cy - sh / 2))
    H, W = canvas.shape[:2]
    ax1, ay1, ax2, ay2 = max(0, x1), max(0, y1), min(W, x1 + sw), min(H, y1 + sh)
    if ax2 <= ax1 or ay2 <= ay1:
        return None
    a = alpha[ay1 - y1:ay2 - y1, ax1 - x1:ax2 - x1, None]
    part = np.clip(img[ay1 - y1:ay2 - y1, ax1 - x1:ax2 - x1].astype(np.float32) * light, 0, 255)
    region = canvas[ay1:ay2, ax1:ax2].astype(np.float32)
    canvas[ay1:ay2, ax1:ax2] = (a * part + (1 - a) * region).astype(np.uint8)
    ys, xs = np.nonzero(a[..., 0] > 0.25)
    if len(xs) == 0:
        return None
    return (float(ax1 + xs.min()), float(ay1 + ys.min()), float(ax1 + xs.max() + 1), float(ay1 + ys.max() + 1))
