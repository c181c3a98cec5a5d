"""``rxaudit calibrate-goods-real``: the counter detector's per-class calibration fitted on real pixels
where real labelled pixels exist, beside renders for the classes that have none.

Pairs (raw score, right at IoU 0.5) pooled per class from:

- real snack frames of the *training* video (``vision.real_goods.split_snacks(...)[0]``), each shrunk
  onto a counter and degraded like CCTV with a seed no training set uses (``CALIBRATION_SEED``):
  ``non_covered`` on real print at the size the audit camera sees it (the held-out video stays for
  ``rxaudit eval-goods``);
- rendered validation images of seed 4 (``rxaudit calibrate-goods``' set): cards, phones, drugs and
  rendered goods;
- photo-styled renders of seed 6 (``sample_footage.photo_set``; training uses 21/22, the style check 5):
  drugs and goods in the same print style.

Never the drug photos (``rxaudit eval-drugs``): they only measure.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from rxaudit.domain import Box
from sample_footage import goods
from training.eval_goods import FrameDetector, calibration_pairs, rendered_validation
from vision.real_goods import SnackFrame

CALIBRATION_SEED = 4004
PHOTO_CALIBRATION_SEED = 6
Truth = list[tuple[str, Box]]


def real_snacks_on_counter(frames: Sequence[SnackFrame]) -> Iterator[tuple[np.ndarray, Truth]]:
    from sample_footage.real_goods_set import snack_on_counter

    for k, frame in enumerate(frames):
        image, labels = snack_on_counter(frame, random.Random(f"{CALIBRATION_SEED}-{k}"))
        yield image, [(goods.CLASSES[c], Box(x1, y1, x2, y2)) for c, x1, y1, x2, y2 in labels]


def photo_renders(count: int, seed: int = PHOTO_CALIBRATION_SEED) -> Iterator[tuple[np.ndarray, Truth]]:
    from sample_footage.photo_set import photo_image

    for i in range(count):
        image, labels = photo_image(seed, "val", i)
        yield image, [(goods.CLASSES[c], Box(x1, y1, x2, y2)) for c, x1, y1, x2, y2 in labels]


def pooled_pairs(detector: FrameDetector, sources: dict[str, Iterable[tuple[np.ndarray, Truth]]],
                 progress: Callable[[str], None] = lambda _: None) -> tuple[dict[str, list[tuple[float, bool]]],
                                                                           dict[str, dict[str, int]]]:
    """All sources' pairs pooled per class, and how many each source gave per class."""
    pooled: dict[str, list[tuple[float, bool]]] = {}
    counts: dict[str, dict[str, int]] = {}
    for name, images in sources.items():
        progress(name)
        pairs = calibration_pairs(detector, images)
        counts[name] = {cls: len(v) for cls, v in sorted(pairs.items())}
        for cls, items in pairs.items():
            pooled.setdefault(cls, []).extend(items)
    return pooled, counts


def sources(snacks: Sequence[SnackFrame], rendered: int, photo: int,
            rendered_seed: int = 4) -> dict[str, Iterable[tuple[np.ndarray, Truth]]]:
    out: dict[str, Iterable[tuple[np.ndarray, Truth]]] = {}
    if snacks:
        out[f"real snack frames (training video, {len(snacks)}) on a counter, seed {CALIBRATION_SEED}"] = \
            real_snacks_on_counter(snacks)
    if rendered:
        out[f"rendered validation seed {rendered_seed}, {rendered} images"] = rendered_validation(rendered_seed, rendered)
    if photo:
        out[f"photo-styled renders seed {PHOTO_CALIBRATION_SEED}, {photo} images"] = photo_renders(photo)
    return out
