"""``rxaudit dataset-photo``: training images where the look of a package does not tell its class.

From both sides of the shortcut "real print means non-covered" (issue 25):

- ``photo_image``: photo-styled drugs *and* photo-styled non-covered goods
  (``sample_footage.photo_goods``, one renderer for both) with soft shadows, on real footage frames,
  rendered counters and plain counter tops, with a few ordinary cards and phones; the camera's blur
  and noise, then H.264 at CCTV size (``sample_footage.cctv``) or JPEG;
- ``restyled_snack``: real snack frames (training split only) given the render look
  (``render_look``: flattened, posterised, saturated), still labelled ``non_covered``; half of them
  shrunk onto a counter as a CCTV camera sees them.

Image ``i`` of a split depends only on (seed, split, i), as in ``sample_footage.detection_set``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from rxaudit.errors import ConfigError
from sample_footage import goods, photo_goods
from sample_footage.cctv import h264_roundtrip
from sample_footage.detection_set import _hand, _init, _osd, background, write_data_yaml, yolo_label_lines
from sample_footage.scene import HEIGHT, WIDTH
from vision.real_goods import SnackFrame, read_rgb

Label = tuple[int, float, float, float, float]
PHOTO_CLASS_WEIGHTS = {"drug": 0.45, "non_covered": 0.4, "card": 0.1, "phone": 0.05}


def plain_counter(rng: random.Random) -> np.ndarray:
    """A counter top: one colour, light falling off to the front, a faint grain."""
    colour = rng.choice([(170, 170, 166), (198, 180, 150), (120, 90, 60), (225, 225, 222), (60, 60, 64),
                         (150, 110, 80)])
    img = np.empty((HEIGHT, WIDTH, 3), np.float32)
    img[:] = colour
    img *= np.linspace(rng.uniform(1.0, 1.15), rng.uniform(0.8, 1.0), HEIGHT, dtype=np.float32)[:, None, None]
    grain = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 1, (HEIGHT // 8, WIDTH // 2))
    img += cv2.resize(grain.astype(np.float32), (WIDTH, HEIGHT))[..., None] * rng.uniform(2, 10)
    return np.clip(img, 0, 255).astype(np.uint8)


def camera(img: np.ndarray, rng: random.Random) -> np.ndarray:
    """Exposure, sensor noise, focus blur, then H.264 (one frame at CCTV size) or JPEG."""
    out = img.astype(np.float32) * rng.uniform(0.7, 1.25) + rng.uniform(-20, 20)
    out += np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(1, 6), out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.3))
    if rng.random() < 0.5:
        return h264_roundtrip([out], crf=rng.choice([23, 27, 30, 33]))[0]
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(30, 85)])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else out


def photo_image(seed: int, split: str, index: int) -> tuple[np.ndarray, list[Label]]:
    """One image (RGB) of photo-styled goods and its labels (class index, x1, y1, x2, y2)."""
    rng = random.Random(f"photo-{seed}-{split}-{index}")
    canvas = background(rng) if rng.random() < 0.6 else plain_counter(rng)
    labels: list[Label] = []
    classes, weights = zip(*PHOTO_CLASS_WEIGHTS.items())
    for _ in range(rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6])):
        cls = rng.choices(classes, weights)[0]
        if cls in photo_goods.VARIANTS_BY_CLASS:
            sprite = photo_goods.make(cls, rng)
        else:
            sprite = goods.make(rng.choice(goods.VARIANTS_BY_CLASS[cls]), rng)
        width = math.exp(rng.uniform(math.log(28), math.log(200)))
        cx, cy = rng.uniform(0, WIDTH), rng.uniform(HEIGHT * 0.25, HEIGHT)
        trial = canvas.copy()
        pose = {"angle": rng.uniform(-25, 25) if rng.random() < 0.8 else rng.uniform(-90, 90),
                "tilt": rng.uniform(0.6, 1.0), "light": rng.uniform(0.7, 1.15)}
        if rng.random() < 0.7:
            box = photo_goods.place_with_shadow(trial, sprite, cx, cy, width, rng, **pose)
        else:
            box = goods.place(trial, sprite, cx, cy, width, **pose)
        if box is None or box[2] - box[0] < 6 or box[3] - box[1] < 6:
            continue
        if any(_overlap(box, lb[1:]) > 0.35 for lb in labels):
            continue
        canvas = trial
        if rng.random() < 0.2:
            _hand(canvas, box, rng)
        labels.append((goods.CLASSES.index(cls), *box))
    if rng.random() < 0.3:
        _osd(canvas, rng)
    return camera(canvas, rng), labels


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def render_look(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Real pixels made to look rendered: flat colour areas, few levels, crisp edges, strong colour."""
    h, w = image.shape[:2]
    f = rng.uniform(0.3, 0.6)
    small = cv2.resize(image, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
    for _ in range(rng.randint(1, 3)):
        small = cv2.bilateralFilter(small, 7, rng.uniform(40, 90), 7)
    levels = rng.choice([3, 4, 5, 6])
    step = 256 // levels
    small = (small // step * step + step // 2).astype(np.uint8)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(1.0, 1.5), 0, 255)
    small = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST if rng.random() < 0.5 else cv2.INTER_LINEAR)


def restyled_snack(frame: SnackFrame, rng: random.Random) -> tuple[np.ndarray, list[Label]]:
    """A real snack frame with the render look, its bags still ``non_covered``."""
    from sample_footage.real_goods_set import shrunk_onto_counter

    image = render_look(read_rgb(frame.image), rng)
    h, w = image.shape[:2]
    nc = goods.CLASSES.index("non_covered")
    labels: list[Label] = [(nc, x1 * w, y1 * h, x2 * w, y2 * h) for x1, y1, x2, y2 in frame.boxes]
    if rng.random() < 0.5:
        return shrunk_onto_counter(image, labels, rng)
    return image, labels


def _save(out: Path, split: str, name: str, image: np.ndarray, labels: Sequence[Label]) -> None:
    cv2.imwrite(str(out / "images" / split / f"{name}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    (out / "labels" / split / f"{name}.txt").write_text(yolo_label_lines(labels, image.shape[1], image.shape[0]))


def write_photo_dataset(out: Path, *, train: int, val: int, seed: int, val_seed: int,
                        snacks: Sequence[SnackFrame] = (), restyled: int = 0,
                        backgrounds: Sequence[Path] = ()) -> dict[str, int]:
    """``train`` + ``val`` photo-styled images, and ``restyled`` real snack frames (training split
    only: pass ``vision.real_goods.split_snacks(...)[0]``) in the training split."""
    if seed == val_seed:
        raise ConfigError(f"--val-seed {val_seed}: the validation seed must differ from the training seed")
    if restyled and not snacks:
        raise ConfigError("--restyled needs --snacks (the real snack set)")
    _init([str(p) for p in backgrounds])
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    counts = {"photo": 0, "restyled": 0, "boxes": 0}
    for split, n, s in (("train", train, seed), ("val", val, val_seed)):
        for i in range(n):
            image, labels = photo_image(s, split, i)
            _save(out, split, f"photo_{i:06d}", image, labels)
            counts["photo"] += 1
            counts["boxes"] += len(labels)
    for k in range(restyled):
        rng = random.Random(f"restyled-{seed}-{k}")
        image, labels = restyled_snack(snacks[rng.randrange(len(snacks))], rng)
        _save(out, "train", f"restyled_{k:05d}", image, labels)
        counts["restyled"] += 1
        counts["boxes"] += len(labels)
    write_data_yaml(out)
    return counts
