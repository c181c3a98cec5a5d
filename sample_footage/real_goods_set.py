"""``rxaudit dataset real``: the real goods sets as an ultralytics dataset the counter detector trains on.

Only the training splits of ``vision.real_goods`` go in (the held-out snack video and grocery
classes never do); what goes in:

- each real snack frame as it is, its products boxed as ``non_covered``;
- each real snack frame again, shrunk into a 640x360 counter background and degraded like CCTV
  (the audit's cameras see goods small, from above, blurred and compressed);
- crowded counters (``sample_footage.crowded_snacks``): real bags cut along their outlines and
  pasted over other training frames (half of these then shrunk like the frames above) or onto
  counter backgrounds;
- composites: packaged-drink and dairy photos (the product's central part) pasted as
  ``non_covered`` goods onto counter backgrounds, beside rendered drugs, cards and phones; fruit and
  vegetable photos pasted unlabelled (food the detector must never read as a drug).

Image ``i`` depends only on (seed, i), as in ``sample_footage.detection_set``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from sample_footage import goods
from sample_footage.crowded_snacks import Label, bags_on_background, crowded_counter
from sample_footage.detection_set import _degrade, _hand, background, write_data_yaml, yolo_label_lines
from sample_footage.scene import HEIGHT, WIDTH
from vision.real_goods import GroceryPhoto, SnackFrame, read_rgb

NON_COVERED = goods.CLASSES.index("non_covered")


def snack_labels(frame: SnackFrame, width: int, height: int) -> list[Label]:
    """The frame's snack bags as non-covered labels in pixels of a ``width`` x ``height`` image."""
    return [(NON_COVERED, x1 * width, y1 * height, x2 * width, y2 * height) for x1, y1, x2, y2 in frame.boxes]


def snack_on_counter(frame: SnackFrame, rng: random.Random) -> tuple[np.ndarray, list[Label]]:
    """The snack frame shrunk into a CCTV-sized background at a random place, then degraded."""
    image = read_rgb(frame.image)
    return shrunk_onto_counter(image, snack_labels(frame, image.shape[1], image.shape[0]), rng)


def shrunk_onto_counter(image: np.ndarray, labels: Sequence[Label], rng: random.Random
                        ) -> tuple[np.ndarray, list[Label]]:
    """A close-up (pixel labels) shrunk into a CCTV-sized background at a random place, then degraded."""
    h, w = image.shape[:2]
    scale = min(WIDTH / w, HEIGHT / h) * rng.uniform(0.35, 1.0)
    nw, nh = max(8, int(w * scale)), max(8, int(h * scale))
    canvas = background(rng)
    dx, dy = rng.randint(0, WIDTH - nw), rng.randint(0, HEIGHT - nh)
    canvas[dy:dy + nh, dx:dx + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    moved = [(c, dx + x1 * nw / w, dy + y1 * nh / h, dx + x2 * nw / w, dy + y2 * nh / h)
             for c, x1, y1, x2, y2 in labels]
    return _degrade(canvas, rng), [lb for lb in moved if lb[3] - lb[1] >= 4 and lb[4] - lb[2] >= 4]


def grocery_sprite(photo: GroceryPhoto, rng: random.Random) -> goods.Sprite:
    """The central part of a product photo (the product is held in the middle) as a sprite."""
    image = read_rgb(photo.image)
    h, w = image.shape[:2]
    keep = rng.uniform(0.45, 0.75)
    cw, ch = int(w * keep * rng.uniform(0.8, 1.0)), int(h * keep * rng.uniform(0.8, 1.0))
    x1, y1 = (w - cw) // 2 + rng.randint(-w // 12, w // 12), (h - ch) // 2 + rng.randint(-h // 12, h // 12)
    x1, y1 = min(max(0, x1), w - cw), min(max(0, y1), h - ch)
    crop = np.ascontiguousarray(image[y1:y1 + ch, x1:x1 + cw])
    alpha = np.ones(crop.shape[:2], np.float32)
    cls = "non_covered" if photo.group == "Packages" else "negative"
    return goods.Sprite(crop, alpha, f"grocery:{photo.group}", cls)


def composite(photos: Sequence[GroceryPhoto], rng: random.Random) -> tuple[np.ndarray, list[Label]]:
    canvas = background(rng)
    labels: list[Label] = []
    for _ in range(rng.choice([1, 2, 2, 3, 3, 4, 5])):
        if rng.random() < 0.6:
            sprite = grocery_sprite(photos[rng.randrange(len(photos))], rng)
        else:  # rendered goods keep the other classes in view
            cls = rng.choices(goods.CLASSES, (0.2, 0.12, 0.5, 0.18))[0]
            sprite = goods.make(rng.choice(goods.VARIANTS_BY_CLASS[cls]), rng)
        width = math.exp(rng.uniform(math.log(18), math.log(180)))
        box = goods.place(canvas, sprite, rng.uniform(0, WIDTH), rng.uniform(HEIGHT * 0.2, HEIGHT), width,
                          angle=rng.uniform(-30, 30), tilt=rng.uniform(0.6, 1.0), light=rng.uniform(0.6, 1.25))
        if box is None or box[2] - box[0] < 6 or box[3] - box[1] < 6:
            continue
        if rng.random() < 0.3:
            _hand(canvas, box, rng)
        if sprite.cls in goods.CLASSES:
            labels.append((goods.CLASSES.index(sprite.cls), *box))
    return _degrade(canvas, rng), labels


def _save(out: Path, split: str, name: str, image: np.ndarray, labels: Sequence[Label]) -> None:
    cv2.imwrite(str(out / "images" / split / f"{name}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    (out / "labels" / split / f"{name}.txt").write_text(yolo_label_lines(labels, image.shape[1], image.shape[0]))


def write_real_dataset(out: Path, *, snacks: Sequence[SnackFrame], groceries: Sequence[GroceryPhoto],
                       composites: int = 600, crowded: int = 0, seed: int = 11,
                       backgrounds: Sequence[Path] = ()) -> dict[str, int]:
    """Write the training split. Its validation split stays empty on purpose: the held-out real
    frames are scored by ``rxaudit eval-goods`` only, never used to pick the best epoch, so mix
    this set with one that has a validation split (renders, reviewed boxes)."""
    from sample_footage.detection_set import _init

    _init([str(p) for p in backgrounds])
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    counts = {"snack_frames": 0, "snack_on_counter": 0, "crowded": 0, "composites": 0, "boxes": 0}
    for k, frame in enumerate(snacks):
        image = read_rgb(frame.image)
        labels = snack_labels(frame, image.shape[1], image.shape[0])
        _save(out, "train", f"snack_{k:05d}", image, labels)
        rng = random.Random(f"{seed}-snack-{k}")
        small, small_labels = snack_on_counter(frame, rng)
        _save(out, "train", f"snackcctv_{k:05d}", small, small_labels)
        counts["snack_frames"] += 1
        counts["snack_on_counter"] += 1
        counts["boxes"] += len(labels) + len(small_labels)
    outlined = [f for f in snacks if f.polygons]
    for k in range(crowded if outlined else 0):
        rng = random.Random(f"{seed}-crowded-{k}")
        if rng.random() < 0.35:  # on a shop or counter scene, already CCTV-sized
            image, labels = bags_on_background(background(rng), outlined, rng, NON_COVERED)
        else:
            image, labels = crowded_counter(outlined[rng.randrange(len(outlined))], outlined, rng, NON_COVERED)
            if rng.random() < 0.5:  # half as the close-up, half as a CCTV camera would see it
                image, labels = shrunk_onto_counter(image, labels, rng)
        _save(out, "train", f"crowded_{k:05d}", image, labels)
        counts["crowded"] += 1
        counts["boxes"] += len(labels)
    for k in range(composites if groceries else 0):
        image, labels = composite(groceries, random.Random(f"{seed}-grocery-{k}"))
        _save(out, "train", f"grocery_{k:05d}", image, labels)
        counts["composites"] += 1
        counts["boxes"] += len(labels)
    write_data_yaml(out)
    return counts
