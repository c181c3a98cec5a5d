"""``rxaudit dataset render``: the counter detector's training data, rendered with domain randomisation.

Goods and cards (``sample_footage.goods``) are composited onto backgrounds (real frames from footage
files, rendered pharmacy counters with real people pasted in, plain textures), at random sizes,
angles, tilts and light, partly covered by hands, then blurred, noised, down-scaled and
JPEG-compressed like CCTV. With ``counter_rows`` (``rxaudit dataset render --counter-rows``), that
share of the images instead lays goods out side by side on a rendered counter top at the size an
audit camera sees them (``sample_footage.baskets.WIDTH``, give or take a third): the small cans,
bottles and jars the free-size images rarely show at that scale. Writes an ultralytics dataset:
images/{train,val}, labels/{train,val}, data.yaml. Image ``i`` of a split depends only on (seed,
split, i, counter_rows): any number of worker processes gives the same files, and a share of 0 gives
the images of before the option.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import yaml

from rxaudit.errors import ConfigError
from sample_footage import goods
from sample_footage.baskets import UPRIGHT, WIDTH as LYING_WIDTH
from sample_footage.scene import (
    ACTOR_HEIGHT,
    DESK_TOP,
    HEIGHT,
    WIDTH,
    Backdrop,
    paste,
    sprite_frames,
)

CLASS_WEIGHTS = {"card": 0.2, "phone": 0.12, "drug": 0.34, "non_covered": 0.34}
SKIN = [(224, 172, 140), (198, 134, 100), (241, 194, 160), (160, 110, 80)]

_backgrounds: list[np.ndarray] = []


def read_frames(path: Path, every: int = 15, limit: int = 40) -> list[np.ndarray]:
    """RGB frames of a video or GIF (every ``every``-th) or of a still image, at the working size."""
    if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
        bgr = cv2.imread(str(path))
        if bgr is None:
            raise ValueError(f"cannot read image {path}")
        return [cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)]
    import av

    out: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k % every == 0:
                img = frame.to_ndarray(format="rgb24")
                out.append(cv2.resize(img, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA))
                if len(out) >= limit:
                    break
    return out


def _init(paths: Sequence[str]) -> None:
    _backgrounds.clear()
    for p in paths:
        _backgrounds.extend(read_frames(Path(p)))


def _counter_scene(rng: random.Random) -> np.ndarray:
    """A rendered counter (shelves, desk, clutter) with real people sprites standing behind it."""
    backdrop = Backdrop(rng)
    img = backdrop.image.copy()
    for _ in range(rng.randint(0, 2)):
        actor = rng.choice(sorted(ACTOR_HEIGHT))
        frames = sprite_frames(actor)
        paste(img, frames[rng.randrange(len(frames))], rng.uniform(60, 600), DESK_TOP + 30,
              int(ACTOR_HEIGHT[actor] * rng.uniform(0.7, 1.1)))
    cv2.rectangle(img, (0, DESK_TOP), (WIDTH, HEIGHT), backdrop.desk_color, -1)
    for x, w, h, colour in backdrop.goods:
        cv2.rectangle(img, (x, DESK_TOP + 6), (x + w, DESK_TOP + 6 + h), colour, -1)
    return img


def _texture(rng: random.Random) -> np.ndarray:
    small = np.random.default_rng(rng.randrange(1 << 30)).integers(0, 255, (9, 16, 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC), (0, 0), 9)


def background(rng: random.Random) -> np.ndarray:
    pick = rng.random()
    if _backgrounds and pick < 0.45:
        img = _backgrounds[rng.randrange(len(_backgrounds))].copy()
        if rng.random() < 0.5:
            img = img[:, ::-1].copy()
        return img
    if pick < 0.85:
        return _counter_scene(rng)
    return _texture(rng)


def _hand(canvas: np.ndarray, box: tuple[float, float, float, float], rng: random.Random) -> None:
    """A hand holding the item: a skin-coloured palm and fingers over one side, at most ~1/3 of it."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    colour = rng.choice(SKIN)
    side = rng.choice(["left", "right", "bottom"])
    if side == "bottom":
        cx, cy = x1 + w * rng.uniform(0.3, 0.7), y2
    else:
        cx, cy = (x1 if side == "left" else x2), y1 + h * rng.uniform(0.3, 0.7)
    axes = (max(3, int(w * 0.22)), max(3, int(h * 0.3)))
    cv2.ellipse(canvas, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, colour, -1)
    for k in range(3):  # fingers
        fx = int(cx + (k - 1) * axes[0] * 0.6)
        cv2.line(canvas, (fx, int(cy)), (fx + rng.randint(-4, 4), int(cy - axes[1] * 1.2)), colour,
                 max(2, axes[0] // 3))


def _osd(img: np.ndarray, rng: random.Random) -> None:
    """CCTV on-screen text: a timestamp and a camera name, which must never read as goods."""
    h, w = img.shape[:2]
    stamp = (f"{rng.randint(2019, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
             f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}")
    texts = [stamp] + ([f"CAM{rng.randint(1, 32):02d} {rng.choice(['COUNTER', 'CASHIER', 'POS', 'FRONT'])}"]
                       if rng.random() < 0.5 else [])
    scale = rng.uniform(0.4, 0.9)
    colour = rng.choice([(255, 255, 255), (255, 255, 0), (230, 230, 230), (0, 0, 0)])
    x = rng.choice([rng.randint(4, 20), w - int(scale * 21 * len(stamp)) - rng.randint(4, 20)])
    y = rng.choice([rng.randint(14, 34), h - rng.randint(8, 30)])
    for k, text in enumerate(texts):
        org = (max(0, x), y + k * int(28 * scale) * (1 if y < h // 2 else -1))
        if rng.random() < 0.4:
            cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, rng.choice([1, 2]), cv2.LINE_AA)


def _degrade(img: np.ndarray, rng: random.Random) -> np.ndarray:
    img = np.clip(img.astype(np.float32) * rng.uniform(0.65, 1.3) + rng.uniform(-25, 25), 0, 255)
    if rng.random() < 0.3:
        img += np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(2, 8), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.6))
    if rng.random() < 0.15:
        k = rng.choice([5, 7, 9])
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        img = cv2.filter2D(img, -1, kernel)
    if rng.random() < 0.3:  # a low-resolution camera
        f = rng.uniform(0.4, 0.7)
        small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    quality = rng.randint(25, 90)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else img


def _draw_variant(rng: random.Random) -> tuple[str, str]:
    """A class by ``CLASS_WEIGHTS``, then one of its variants."""
    classes, weights = zip(*CLASS_WEIGHTS.items())
    cls = rng.choices(classes, weights)[0]
    return cls, rng.choice(goods.VARIANTS_BY_CLASS[cls])


def _labelled(box: tuple[float, float, float, float] | None) -> bool:
    """A placed item big enough to label (6 px each way)."""
    return box is not None and box[2] - box[0] >= 6 and box[3] - box[1] >= 6


def render_image(seed: int, split: str, index: int, counter_rows: float = 0.0
                 ) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]]]:
    """One training image (RGB) and its labels (class index, x1, y1, x2, y2 in pixels)."""
    rng = random.Random(f"{seed}-{split}-{index}")
    if counter_rows > 0 and random.Random(f"{seed}-{split}-{index}-rows").random() < counter_rows:
        return counter_row(rng)
    canvas = background(rng)
    labels: list[tuple[int, float, float, float, float]] = []
    boxes: list[tuple[float, float, float, float]] = []
    for _ in range(rng.choice([0, 1, 2, 2, 3, 3, 4, 5, 6, 8])):
        cls, variant = _draw_variant(rng)
        sprite = goods.make(variant, rng)
        width = math.exp(rng.uniform(math.log(16), math.log(170))) * sprite.alpha.shape[1] / 130
        cx = rng.uniform(0, WIDTH)
        cy = rng.uniform(HEIGHT * 0.2, HEIGHT) if rng.random() < 0.8 else rng.uniform(0, HEIGHT)
        angle = rng.uniform(-25, 25) if rng.random() < 0.7 else rng.uniform(-90, 90)
        trial = canvas.copy()
        box = goods.place(trial, sprite, cx, cy, width, angle=angle, tilt=rng.uniform(0.55, 1.0),
                          light=rng.uniform(0.6, 1.25))
        if not _labelled(box):
            continue
        if any(_overlap(box, other) > 0.35 for other in boxes):
            continue
        canvas = trial
        if rng.random() < 0.3:
            _hand(canvas, box, rng)
        boxes.append(box)
        labels.append((goods.CLASSES.index(cls), *box))
    if rng.random() < 0.5:
        _osd(canvas, rng)
    return _degrade(canvas, rng), labels


def counter_row(rng: random.Random) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]]]:
    """Goods, cards and phones lying side by side on a rendered counter top, each at its lying width
    (``LYING_WIDTH``) times 0.75-1.35, as far apart as a cashier lays them (8-24 px), some held."""
    canvas = _counter_scene(rng)
    labels: list[tuple[int, float, float, float, float]] = []
    x = rng.uniform(10, 160)
    for _ in range(rng.randint(1, 6)):
        cls, variant = _draw_variant(rng)
        width = LYING_WIDTH[variant] * rng.uniform(0.75, 1.35)
        if x + width > WIDTH - 4:
            break
        upright = variant in UPRIGHT
        box = goods.place(canvas, goods.make(variant, rng), x + width / 2, rng.uniform(DESK_TOP + 16, HEIGHT - 12),
                          width, angle=rng.uniform(-4, 4) if upright else rng.uniform(-15, 15),
                          tilt=rng.uniform(0.65, 0.95), light=rng.uniform(0.7, 1.2))
        if _labelled(box):
            if rng.random() < 0.15:
                _hand(canvas, box, rng)
            labels.append((goods.CLASSES.index(cls), *box))
            x = box[2]
        x += rng.uniform(8, 24)
    if rng.random() < 0.5:
        _osd(canvas, rng)
    return _degrade(canvas, rng), labels


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def yolo_label_lines(labels: Sequence[tuple[int, float, float, float, float]], width: int, height: int) -> str:
    lines = []
    for cls, x1, y1, x2, y2 in labels:
        lines.append(f"{cls} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                     f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return "\n".join(lines) + ("\n" if lines else "")


def _write(job: tuple[Path, int, str, int, float]) -> int:
    out, seed, split, index, counter_rows = job
    image, labels = render_image(seed, split, index, counter_rows)
    name = f"{split}_{index:06d}"
    cv2.imwrite(str(out / "images" / split / f"{name}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    (out / "labels" / split / f"{name}.txt").write_text(yolo_label_lines(labels, image.shape[1], image.shape[0]))
    return len(labels)


def write_data_yaml(out: Path, names: Sequence[str] = goods.CLASSES) -> Path:
    path = out / "data.yaml"
    data = {"path": str(out.resolve()), "train": "images/train", "val": "images/val",
            "names": dict(enumerate(names))}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def render_dataset(out: Path, *, train: int, val: int, seed: int, val_seed: int,
                   backgrounds: Sequence[Path] = (), workers: int = 1, counter_rows: float = 0.0) -> dict[str, int]:
    """Render ``train`` + ``val`` images; the validation split uses its own seed."""
    if not 0.0 <= counter_rows <= 1.0:
        raise ConfigError(f"--counter-rows {counter_rows}: a share between 0 and 1")
    if seed == val_seed:
        raise ConfigError(f"--val-seed {val_seed}: the validation seed must differ from the training seed")
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    jobs = ([(out, seed, "train", i, counter_rows) for i in range(train)]
            + [(out, val_seed, "val", i, counter_rows) for i in range(val)])
    paths = [str(p) for p in backgrounds]
    if workers > 1:
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(paths,)) as pool:
            counts = list(pool.map(_write, jobs, chunksize=32))
    else:
        _init(paths)
        counts = [_write(job) for job in jobs]
    write_data_yaml(out)
    return {"images": len(jobs), "objects": sum(counts)}
