"""Crowded counters: real snack bags cut out along their labelled outlines and pasted, overlapping,
onto real snack frames of the training video.

Why: the training video mostly shows two bags at a time, the held-out one three to six that overlap,
and the detector missed most where bags crowd (loose boxes around two bags, or none). Pasting real
bags (their own pixels, cut along the annotator's polygon) beside and over the frame's own bags gives
crowded scenes of real pixels. Every object's box is recomputed from what stays visible: a bag mostly
hidden by a later paste loses its label, and one hidden beyond ``MIN_VISIBLE`` is left unlabelled
(it is still goods, but no annotator would box a sliver).

Bags are also pasted onto other scenes (``bags_on_background``): the training video shows them on
cardboard only, the held-out one on a glass counter in front of shelves.

Only training frames go in (``write_real_dataset`` passes the training split); image ``k`` depends
only on (seed, k).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import cv2
import numpy as np

from vision.real_goods import SnackFrame, read_rgb

Label = tuple[int, float, float, float, float]  # class, x1, y1, x2, y2 in pixels
MIN_VISIBLE = 0.3  # share of an object's own area that must stay visible for it to keep a label
MIN_SIDE = 6  # pixels


def outline_mask(points: Sequence[tuple[float, float]], width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    pts = np.array([[x * width, y * height] for x, y in points], np.float32).round().astype(np.int32)
    cv2.fillPoly(mask, [pts], 1)
    return mask


def cutout(frame: SnackFrame, index: int, rng: random.Random, scale: float
           ) -> tuple[np.ndarray, np.ndarray] | None:
    """One labelled bag of ``frame`` as (RGB pixels, 0/1 mask), scaled, turned a little, maybe mirrored."""
    image = read_rgb(frame.image)
    h, w = image.shape[:2]
    mask = outline_mask(frame.polygons[index], w, h)
    ys, xs = np.nonzero(mask)
    if len(xs) < 16:
        return None
    x1, x2, y1, y2 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    crop, mask = image[y1:y2, x1:x2], mask[y1:y2, x1:x2]
    if rng.random() < 0.3:
        crop, mask = crop[:, ::-1], mask[:, ::-1]
    nw, nh = max(4, round((x2 - x1) * scale)), max(4, round((y2 - y1) * scale))
    crop = cv2.resize(np.ascontiguousarray(crop), (nw, nh), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(np.ascontiguousarray(mask), (nw, nh), interpolation=cv2.INTER_NEAREST)
    angle = rng.uniform(-20, 20)
    side = int(np.ceil(np.hypot(nw, nh)))
    turn = cv2.getRotationMatrix2D((nw / 2, nh / 2), angle, 1.0)
    turn[:, 2] += ((side - nw) / 2, (side - nh) / 2)
    crop = cv2.warpAffine(crop, turn, (side, side), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    mask = cv2.warpAffine(mask, turn, (side, side), flags=cv2.INTER_NEAREST, borderValue=0)
    light = rng.uniform(0.8, 1.2)
    crop = np.clip(crop.astype(np.float32) * light, 0, 255).astype(np.uint8)
    return crop, mask


def _paste(image: np.ndarray, crop: np.ndarray, mask: np.ndarray, cx: float, cy: float) -> np.ndarray:
    """Blend ``crop`` centred at (cx, cy) with a feathered edge; returns the full-frame 0/1 mask pasted."""
    h, w = image.shape[:2]
    ch, cw = mask.shape
    x0, y0 = int(round(cx - cw / 2)), int(round(cy - ch / 2))
    ax1, ay1, ax2, ay2 = max(0, x0), max(0, y0), min(w, x0 + cw), min(h, y0 + ch)
    placed = np.zeros((h, w), np.uint8)
    if ax2 <= ax1 or ay2 <= ay1:
        return placed
    part = mask[ay1 - y0:ay2 - y0, ax1 - x0:ax2 - x0]
    alpha = cv2.GaussianBlur(part.astype(np.float32), (0, 0), 0.8)[..., None]
    region = image[ay1:ay2, ax1:ax2].astype(np.float32)
    pixels = crop[ay1 - y0:ay2 - y0, ax1 - x0:ax2 - x0].astype(np.float32)
    image[ay1:ay2, ax1:ax2] = (alpha * pixels + (1 - alpha) * region).round().astype(np.uint8)
    placed[ay1:ay2, ax1:ax2] = part
    return placed


def visible_labels(masks: Sequence[np.ndarray], areas: Sequence[int], cls: int) -> list[Label]:
    """A box around what stays visible of each object, for those still visible enough."""
    labels: list[Label] = []
    for mask, area in zip(masks, areas):
        ys, xs = np.nonzero(mask)
        if area <= 0 or len(xs) < MIN_VISIBLE * area:
            continue
        x1, y1, x2, y2 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
        if x2 - x1 >= MIN_SIDE and y2 - y1 >= MIN_SIDE:
            labels.append((cls, x1, y1, x2, y2))
    return labels


def crowded_counter(base: SnackFrame, donors: Sequence[SnackFrame], rng: random.Random, cls: int
                    ) -> tuple[np.ndarray, list[Label]]:
    """``base`` with 1-4 bags of ``donors`` pasted near and over its own, at the size they had in their
    frame (x0.75-1.25), each earlier object's box shrunk to what the later ones leave visible."""
    image = read_rgb(base.image)
    h, w = image.shape[:2]
    masks = [outline_mask(points, w, h) for points in base.polygons]
    return crowd(image, masks, donors, rng, cls, count=rng.choice([1, 2, 2, 3, 3, 4]), scale=(0.75, 1.25))


def bags_on_background(canvas: np.ndarray, donors: Sequence[SnackFrame], rng: random.Random, cls: int
                       ) -> tuple[np.ndarray, list[Label]]:
    """2-6 bags of ``donors`` on another scene (a shop, a counter), smaller than in their close-ups."""
    return crowd(canvas.copy(), [], donors, rng, cls, count=rng.randint(2, 6), scale=(0.3, 0.8))


def crowd(image: np.ndarray, masks: list[np.ndarray], donors: Sequence[SnackFrame], rng: random.Random,
          cls: int, *, count: int, scale: tuple[float, float]) -> tuple[np.ndarray, list[Label]]:
    """Paste ``count`` bags of ``donors`` onto ``image`` (whose objects are ``masks``), mostly beside or
    over a bag already there; returns the image and a box per object still visible enough."""
    h, w = image.shape[:2]
    areas = [int(m.sum()) for m in masks]
    sources = [(d, i) for d in donors for i in range(len(d.polygons))]
    for _ in range(count if sources else 0):
        donor, index = sources[rng.randrange(len(sources))]
        cut = cutout(donor, index, rng, rng.uniform(*scale))
        if cut is None:
            continue
        crop, mask = cut
        anchors = [m for m in masks if m.any()]
        if anchors and rng.random() < 0.75:
            ys, xs = np.nonzero(anchors[rng.randrange(len(anchors))])
            cx = (xs.min() + xs.max()) / 2 + rng.uniform(-0.8, 0.8) * (xs.max() - xs.min())
            cy = (ys.min() + ys.max()) / 2 + rng.uniform(-0.8, 0.8) * (ys.max() - ys.min())
        else:
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        placed = _paste(image, crop, mask, cx, cy)
        if not placed.any():
            continue
        for m in masks:
            m[placed > 0] = 0
        masks.append(placed)
        areas.append(int(placed.sum()))  # a bag cut by the frame's edge keeps its label
    return image, visible_labels(masks, areas, cls)
