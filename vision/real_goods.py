"""The real goods sets in ``../shared/datasets`` read as typed records, and their held-out splits.

- ``snacks/``: frames of phone videos of snack bags on a shop counter with YOLO segmentation
  polygons (credit: "Iranian Snack and Chips Detection", Saad Abd El-Ghaffar, MIT). Every product
  is non-covered goods; a polygon becomes its bounding box. Frames of one video are near-duplicates,
  so the split is by source video (the video id is the file-name prefix before ``_mp4-``).
- ``groceries/``: photos of packaged drinks and dairy, fruit and vegetables in class folders, no
  boxes (credit: M. Klasson, C. Zhang, H. Kjellström, "A Hierarchical Grocery Store Image Dataset
  with Visual and Semantic Labels", WACV 2019, MIT). The split is by fine class: photos of a held-out
  class are never trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rxaudit.errors import InputError

SNACK_HELD_OUT_VIDEO = "20250506_205726"  # the shorter of the two videos (100 frames), never trained on
GROCERY_HOLD_OUT_EVERY = 3  # every third fine class (sorted within its group) is held out
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class SnackFrame:
    image: Path
    video: str
    # per labelled product, its outline as (x, y) pairs normalised 0..1 (a labelled box: its corners)
    polygons: tuple[tuple[tuple[float, float], ...], ...]

    @property
    def boxes(self) -> tuple[tuple[float, float, float, float], ...]:
        """Per product, x1, y1, x2, y2 normalised 0..1: the box around its outline."""
        return tuple((min(x for x, _ in p), min(y for _, y in p), max(x for x, _ in p), max(y for _, y in p))
                     for p in self.polygons)


@dataclass(frozen=True)
class GroceryPhoto:
    image: Path
    group: str  # Fruit, Packages or Vegetables
    fine_class: str  # the folder path below the group, e.g. "Apple/Pink-Lady"


def read_rgb(path: Path) -> np.ndarray:
    """One image of the sets as RGB pixels; an unreadable file is a ValueError naming it."""
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise ValueError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def polygon_box(values: Sequence[float]) -> tuple[float, float, float, float]:
    """A YOLO row's coordinates (a box ``cx cy w h`` or a polygon ``x1 y1 x2 y2 ...``) -> x1 y1 x2 y2."""
    if len(values) == 4:
        cx, cy, w, h = values
        return (max(0.0, cx - w / 2), max(0.0, cy - h / 2), min(1.0, cx + w / 2), min(1.0, cy + h / 2))
    if len(values) < 6 or len(values) % 2:
        raise ValueError(f"expected a box or a polygon of at least 3 points, got {len(values)} numbers")
    xs, ys = values[0::2], values[1::2]
    return (max(0.0, min(xs)), max(0.0, min(ys)), min(1.0, max(xs)), min(1.0, max(ys)))


def polygon_points(values: Sequence[float]) -> tuple[tuple[float, float], ...]:
    """A YOLO row's coordinates -> the object's outline; a box ``cx cy w h`` gives its corners."""
    x1, y1, x2, y2 = polygon_box(values)
    if len(values) == 4:
        return ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
    return tuple((min(1.0, max(0.0, x)), min(1.0, max(0.0, y))) for x, y in zip(values[0::2], values[1::2]))


def video_of(image: Path) -> str:
    stem = image.name
    return stem.split("_mp4-")[0] if "_mp4-" in stem else stem.rsplit("-", 1)[0]


def read_snacks(root: Path) -> list[SnackFrame]:
    images, labels = Path(root) / "images", Path(root) / "labels"
    if not images.is_dir() or not labels.is_dir():
        raise InputError(f"{root}: expected images/ and labels/ (a YOLO dataset)")
    frames = []
    for image in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label = labels / f"{image.stem}.txt"
        polygons = []
        if label.is_file():
            for number, line in enumerate(label.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    polygons.append(polygon_points([float(v) for v in line.split()[1:]]))
                except ValueError as exc:
                    raise InputError(f"{label}: line {number}: {exc}") from exc
        frames.append(SnackFrame(image, video_of(image), tuple(polygons)))
    if not frames:
        raise InputError(f"{images}: no images")
    return frames


def read_groceries(root: Path) -> list[GroceryPhoto]:
    base = Path(root) / "train" if (Path(root) / "train").is_dir() else Path(root)
    photos = []
    for group in sorted(p for p in base.iterdir() if p.is_dir()):
        for image in sorted(group.rglob("*")):
            if image.suffix.lower() in IMAGE_SUFFIXES:
                photos.append(GroceryPhoto(image, group.name, str(image.parent.relative_to(group))))
    if not photos:
        raise InputError(f"{base}: no photos in class folders")
    return photos


def split_snacks(frames: Sequence[SnackFrame], held_out: str = SNACK_HELD_OUT_VIDEO
                 ) -> tuple[list[SnackFrame], list[SnackFrame]]:
    """(train, held out) by source video."""
    if held_out not in {f.video for f in frames}:
        raise InputError(f"no frames of video {held_out!r} to hold out")
    return [f for f in frames if f.video != held_out], [f for f in frames if f.video == held_out]


def held_out_classes(photos: Sequence[GroceryPhoto], every: int = GROCERY_HOLD_OUT_EVERY) -> set[tuple[str, str]]:
    """(group, fine class) pairs held out: every ``every``-th fine class of each group, sorted by name."""
    held: set[tuple[str, str]] = set()
    for group in sorted({p.group for p in photos}):
        classes = sorted({p.fine_class for p in photos if p.group == group})
        held.update((group, c) for k, c in enumerate(classes) if k % every == every - 1)
    return held


def split_groceries(photos: Sequence[GroceryPhoto], every: int = GROCERY_HOLD_OUT_EVERY
                    ) -> tuple[list[GroceryPhoto], list[GroceryPhoto]]:
    """(train, held out) by fine class."""
    held = held_out_classes(photos, every)
    return ([p for p in photos if (p.group, p.fine_class) not in held],
            [p for p in photos if (p.group, p.fine_class) in held])
