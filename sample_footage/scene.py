"""Rendering one counter camera: a pharmacy backdrop, a counter, goods, a cashier, and real people
(sprites cut from CC BY 4.0 footage) composited in as customers who walk in, stand and leave."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from sample_footage import goods as goods_sprites

ASSETS = Path(__file__).resolve().parent / "assets"
WIDTH, HEIGHT = 640, 360
DESK_TOP = 292
WALK_S = 1.5
CUSTOMER_ZONE = ((0.0, 0.0), (0.66, 0.0), (0.66, 1.0), (0.0, 1.0))
GOODS_ZONE = ((0.0, 0.78), (1.0, 0.78), (1.0, 1.0), (0.0, 1.0))  # the counter top (DESK_TOP = 292 px)
DISPLAY_X = (430, WIDTH)  # a stocked counter's glass top, in pixels: the cashier's side of the counter
DISPLAY_Y = (DESK_TOP + 8, HEIGHT)
# relative polygon of the glass top (cameras.yaml display_zone of a stocked counter)
DISPLAY_ZONE = ((DISPLAY_X[0] / WIDTH, DISPLAY_Y[0] / HEIGHT), (1.0, DISPLAY_Y[0] / HEIGHT),
                (1.0, 1.0), (DISPLAY_X[0] / WIDTH, 1.0))
# actor -> height in pixels at the front of the counter
ACTOR_HEIGHT = {"male": 215, "female": 215, "class_right": 190, "aisle_woman": 240,
                "worker": 205, "cashier": 175}


@cache
def sprite_frames(actor: str) -> tuple[np.ndarray, ...]:
    paths = sorted(ASSETS.glob(f"{actor}_*.jpg"))
    if not paths:
        raise FileNotFoundError(f"no sprites for {actor} in {ASSETS}")
    frames = []
    for path in paths:
        bgr = cv2.imread(str(path))
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return tuple(frames)


@cache
def _feather(h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), np.float32)
    border = max(2, min(h, w) // 14)
    mask[border:-border, border:-border] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), border / 1.5)
    return mask[..., None]


def paste(canvas: np.ndarray, sprite: np.ndarray, cx: float, bottom: float, height: int) -> None:
    scale = height / sprite.shape[0]
    img = cv2.resize(sprite, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    h, w = img.shape[:2]
    x1, y1 = int(cx - w / 2), int(bottom - h)
    sx1, sy1 = max(0, -x1), max(0, -y1)
    x1c, y1c = max(0, x1), max(0, y1)
    x2c, y2c = min(canvas.shape[1], x1 + w), min(canvas.shape[0], y1 + h)
    if x2c <= x1c or y2c <= y1c:
        return
    part = img[sy1 : sy1 + (y2c - y1c), sx1 : sx1 + (x2c - x1c)].astype(np.float32)
    alpha = _feather(h, w)[sy1 : sy1 + (y2c - y1c), sx1 : sx1 + (x2c - x1c)]
    region = canvas[y1c:y2c, x1c:x2c].astype(np.float32)
    canvas[y1c:y2c, x1c:x2c] = (alpha * part + (1 - alpha) * region).astype(np.uint8)


@dataclass(frozen=True)
class Appearance:
    """One person in front of (or behind) the counter between ``arrive`` and ``leave`` (seconds on
    the camera clock of the segment series); ``x`` is the standing centre, ``depth`` 0 front."""

    actor: str
    arrive: float
    leave: float
    x: float
    depth: float = 0.0
    step_forward_at: float | None = None  # a queued customer steps to the front at this time
    front_x: float | None = None

    def placement(self, t: float) -> tuple[float, float, float] | None:
        """(centre x, bottom y, scale) at ``t``, or None when not in the picture."""
        if not self.arrive <= t <= self.leave:
            return None
        depth, x = self.depth, self.x
        if self.step_forward_at is not None and t >= self.step_forward_at:
            k = min(1.0, (t - self.step_forward_at) / WALK_S)
            depth = self.depth * (1 - k)
            x = self.x + k * ((self.front_x if self.front_x is not None else self.x) - self.x)
        off = -130.0
        if t < self.arrive + WALK_S:
            x = off + (x - off) * (t - self.arrive) / WALK_S
        elif t > self.leave - WALK_S:
            x = off + (x - off) * (self.leave - t) / WALK_S
        scale = 1.0 - 0.3 * depth
        bottom = DESK_TOP + 30 - 55 * depth
        return x, bottom, scale


@dataclass(frozen=True)
class CounterItem:
    """A card, phone or item of goods lying on the counter between ``start`` and ``end`` (seconds
    on the same clock as ``Appearance``); (x, y) is its centre, ``width`` its size in pixels."""

    variant: str
    seed: int
    x: float
    y: float
    width: float
    angle: float
    start: float
    end: float

    @property
    def cls(self) -> str:
        return goods_sprites.VARIANT_CLASS[self.variant]


@cache
def item_sprite(variant: str, seed: int) -> goods_sprites.Sprite:
    return goods_sprites.make(variant, random.Random(seed))


class Backdrop:
    """A pharmacy counter's static picture, different per pharmacy and counter."""

    def __init__(self, rng: random.Random) -> None:
        img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        wall = np.array([rng.randint(170, 225), rng.randint(170, 225), rng.randint(165, 215)])
        img[:] = wall
        img[200:] = (wall * 0.75).astype(np.uint8)  # floor
        for shelf_y in (40, 95, 150):  # drug shelves on the back wall
            cv2.rectangle(img, (0, shelf_y + 38), (WIDTH, shelf_y + 44), (120, 100, 80), -1)
            x = 4
            while x < WIDTH - 20:
                w = rng.randint(14, 30)
                color = tuple(rng.randint(60, 250) for _ in range(3))
                cv2.rectangle(img, (x, shelf_y + rng.randint(8, 18)), (x + w, shelf_y + 38), color, -1)
                x += w + rng.randint(2, 6)
        self.image = img
        self.desk_color = tuple(rng.randint(90, 160) for _ in range(3))
        self.goods = [
            (rng.randint(120, 360), rng.randint(18, 34), rng.randint(12, 26),
             tuple(rng.randint(40, 250) for _ in range(3)))
            for _ in range(rng.randint(1, 3))
        ]


def render(backdrop: Backdrop, people: list[Appearance], t: float, fps: float,
           stamp: datetime, items: tuple[CounterItem, ...] = (),
           display: tuple[CounterItem, ...] = ()) -> np.ndarray:
    """``display``: goods under a glass counter top (a stocked counter, ``sample_footage.stocked``)."""
    frame = backdrop.image.copy()
    visible = []
    for person in people:
        where = person.placement(t)
        if where is not None:
            visible.append((person, where))
    for person, (x, bottom, scale) in sorted(visible, key=lambda pw: -pw[0].depth):
        frames = sprite_frames(person.actor)
        index = int((t - person.arrive) * 4) % len(frames)
        paste(frame, frames[index], x, bottom, int(ACTOR_HEIGHT[person.actor] * scale))
    cv2.rectangle(frame, (0, DESK_TOP), (WIDTH, HEIGHT), backdrop.desk_color, -1)
    cv2.line(frame, (0, DESK_TOP), (WIDTH, DESK_TOP), (40, 40, 40), 2)
    for x, w, h, color in backdrop.goods:
        cv2.rectangle(frame, (x, DESK_TOP + 6), (x + w, DESK_TOP + 6 + h), color, -1)
    draw_display(frame, display)
    for item in items:
        if item.start <= t <= item.end:
            goods_sprites.place(frame, item_sprite(item.variant, item.seed), item.x, item.y, item.width,
                                angle=item.angle, tilt=0.8)
    cv2.putText(frame, stamp.strftime("%Y-%m-%d %H:%M:%S"), (8, 20), cv2.FONT_HERSHEY_SIMPLEX,
                0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


@cache
def _glass(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The glass top's tint (light blue-grey) and its reflections (diagonal streaks), per pixel."""
    tint = np.zeros((height, width, 3), np.float32)
    tint[:] = (205, 225, 235)
    streaks = np.zeros((height, width), np.float32)
    for x0 in range(-height, width, 46):
        cv2.line(streaks, (x0, height), (x0 + height, 0), 1.0, 6)
    streaks = cv2.GaussianBlur(streaks, (0, 0), 3)
    return tint, streaks[..., None]


def draw_display(frame: np.ndarray, display: tuple[CounterItem, ...]) -> None:
    """The goods under the glass, then the glass: tinted, with reflections and a frame."""
    if not display:
        return
    x1, x2 = DISPLAY_X
    y1, y2 = DISPLAY_Y
    cv2.rectangle(frame, (x1, y1), (x2, y2), (232, 232, 226), -1)  # the case's pale floor
    for item in display:
        goods_sprites.place(frame, item_sprite(item.variant, item.seed), item.x, item.y, item.width,
                            angle=item.angle, tilt=0.8, light=0.92)
    tint, streaks = _glass(y2 - y1, x2 - x1)
    region = frame[y1:y2, x1:x2].astype(np.float32)
    region = 0.8 * region + 0.2 * tint
    region = region * (1 - 0.25 * streaks) + 255 * 0.25 * streaks
    frame[y1:y2, x1:x2] = np.clip(region, 0, 255).astype(np.uint8)
    cv2.rectangle(frame, (x1, y1), (x2 - 1, y2 - 1), (90, 95, 100), 2)
