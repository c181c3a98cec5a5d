"""``rxaudit eval-drugs``: real drug boxes at the size the audit camera sees them, as the goods rule
would read them. Validation only: the photos never train, set a threshold or fit a calibration.

Each drug box of ``../shared/datasets/drug-photos`` is located once, by hand (its front face's four
corners, measured by eye: ``drug_photo_boxes.json`` beside this file), cut out and rectified. It is
pasted on 640x360 counter frames: every background (plain counter tops, real footage frames, a
held-out snack-counter frame), every width in ``WIDTHS`` (50-150 px), ``POSITIONS`` places each, a
small turn, a tilt as a counter seen from above and a change of light drawn from a seed that names
the frame; then each background's frames go through H.264 at CCTV size (``sample_footage.cctv``).

Per box: ``non_covered`` when a ``non_covered`` detection at the rule's threshold (calibrated >=
``goods_min_score``) lies on it (IoU >= 0.5 or its centre inside the box): the evidence a false
goods swap is made of; ``drug`` likewise; and the one reading the rule takes
(one class per object, ``reconcile.goods.read_frame``). Detections that the bare background already
gives (same class, IoU >= 0.5) are not the pasted box's and are left out.

What a false accusation is made of: ``accuses`` when the goods rule's own per-object decision
(``reconcile.goods.read_frame`` with the settings' ``GoodsOptions``, the code ``summarise_goods``
runs) holds a *decisive* non-covered reading on the box (sure, and no drug reading of the same object
competes: its runner-up class or a drug box over it at ``goods_rival_min_score``); ``unclear_only``
when it holds none but a contested or possible non-covered reading (``goods_review_min_score``): the
rule would only put the sale up for review (``goods_unclear``). Single frames: the rule also needs a
decisive reading held in ``goods_min_frames`` frames and ``goods_min_share`` of those checked, which
one frame cannot show, so ``accuses`` is an upper bound on what one frame contributes.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from reconcile.goods import GoodsOptions, drug_rivals, read_frame
from rxaudit.domain import Box, DetectedObject
from rxaudit.errors import InputError
from sample_footage import goods
from sample_footage.cctv import h264_roundtrip
from sample_footage.scene import HEIGHT, WIDTH
from training.eval_goods import FrameDetector

BOXES_FILE = Path(__file__).with_name("drug_photo_boxes.json")
WIDTHS = (50, 75, 100, 125, 150)
POSITIONS = 3
MATCH_IOU = 0.5
PLAIN = {"plain grey counter": (168, 168, 164), "plain beige counter": (196, 178, 150)}
FOOTAGE_FRAMES = {"bottle-detection.mp4": 30, "people-detection.gif": 30, "worker-zone-detection.gif": 30}


@dataclass(frozen=True)
class DrugBox:
    photo: str
    name: str
    face: np.ndarray  # the rectified front face, RGB


def read_photo(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path))  # EXIF orientation applied, as the corners were measured
    if bgr is None:
        raise InputError(f"cannot read drug photo {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rectify(image: np.ndarray, corners: Sequence[Sequence[float]]) -> np.ndarray:
    """The quadrilateral (normalised corners, clockwise from top-left) warped to an upright rectangle."""
    h, w = image.shape[:2]
    quad = np.float32([[x * w, y * h] for x, y in corners])
    out_w = int(round((np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2))
    out_h = int(round((np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2))
    target = np.float32([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]])
    face = cv2.warpPerspective(image, cv2.getPerspectiveTransform(quad, target), (out_w, out_h),
                               flags=cv2.INTER_AREA)
    scale = 600 / max(out_w, out_h)  # plenty for 150 px; keeps the frames cheap to make
    return cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else face


def drug_boxes(photos: Path, boxes_file: Path = BOXES_FILE) -> list[DrugBox]:
    spec = json.loads(boxes_file.read_text(encoding="utf-8"))["photos"]
    out = []
    for name, entry in spec.items():
        path = photos / name
        if not path.is_file():
            raise InputError(f"{path}: missing (expected the shared drug photos: {', '.join(spec)})")
        image = read_photo(path)
        if [image.shape[1], image.shape[0]] != entry["size"]:
            raise InputError(f"{path}: {image.shape[1]}x{image.shape[0]}, the corners were measured on "
                             f"{entry['size'][0]}x{entry['size'][1]}")
        out.extend(DrugBox(name, b["name"], rectify(image, b["corners"])) for b in entry["boxes"])
    return out


def backgrounds(footage: Path | None, snack_frame: Path | None) -> dict[str, np.ndarray]:
    """Plain counter tops, one frame of each footage clip, and a snack-counter frame (its lower part)."""
    out: dict[str, np.ndarray] = {}
    for name, colour in PLAIN.items():
        img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        img[:] = colour
        shade = np.linspace(1.08, 0.92, HEIGHT, dtype=np.float32)[:, None, None]  # light from the back
        out[name] = np.clip(img * shade, 0, 255).astype(np.uint8)
    if footage is not None:
        from sample_footage.detection_set import read_frames

        for clip, index in FOOTAGE_FRAMES.items():
            path = footage / clip
            if not path.is_file():
                raise InputError(f"{path}: missing (the shared footage clips: {', '.join(FOOTAGE_FRAMES)})")
            frames = read_frames(path, every=1, limit=index + 1)
            out[f"footage {clip}"] = frames[min(index, len(frames) - 1)]
    if snack_frame is not None:
        image = read_photo(snack_frame)
        h, w = image.shape[:2]
        crop_h = int(w * HEIGHT / WIDTH)
        lower = image[h - crop_h - h // 10:h - h // 10]
        out[f"snack counter {snack_frame.name}"] = cv2.resize(lower, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    return out


def compose(background: np.ndarray, box: DrugBox, width: int, key: str) -> tuple[np.ndarray, Box]:
    """The box pasted on the background at ``width`` px, placed and lit by a seed named ``key``."""
    rng = random.Random(key)
    canvas = background.copy()
    sprite = goods.Sprite(box.face, np.ones(box.face.shape[:2], np.float32), "photo", "drug")
    for _ in range(20):
        cx = rng.uniform(width / 2 + 8, WIDTH - width / 2 - 8)
        cy = rng.uniform(HEIGHT * 0.35, HEIGHT - 40)
        placed = goods.place(canvas, sprite, cx, cy, width, angle=rng.uniform(-12, 12),
                             tilt=rng.uniform(0.75, 1.0), light=rng.uniform(0.8, 1.1))
        if placed is not None and placed[3] < HEIGHT - 2:
            return canvas, Box(*placed)
        canvas = background.copy()
    raise ValueError(f"cannot place {box.name} at {width} px")  # not reached with WIDTHS


def on_box(d: DetectedObject, truth: Box) -> bool:
    cx, cy = (d.box.x1 + d.box.x2) / 2, (d.box.y1 + d.box.y2) / 2
    return d.box.iou(truth) >= MATCH_IOU or (truth.x1 <= cx <= truth.x2 and truth.y1 <= cy <= truth.y2)


def _not_background(found: list[DetectedObject], bare: list[DetectedObject]) -> list[DetectedObject]:
    return [d for d in found if not any(b.cls == d.cls and b.box.iou(d.box) >= MATCH_IOU for b in bare)]


def score_box(found: list[DetectedObject], truth: Box, options: GoodsOptions) -> dict[str, Any]:
    """One box in one frame: what lies on it at ``min_score``, and the goods rule's decision there."""
    sure = [d for d in found if d.score >= options.min_score and on_box(d, truth)]
    reading = read_frame(found, drug_rivals([found], options), options)  # the rule's own code path
    read = [d for d in reading.counted if on_box(d, truth)]
    best = max(read, key=lambda d: d.score, default=None)
    nc = [d.score for d in found if d.cls == "non_covered" and on_box(d, truth)]
    accuses = any(on_box(d, truth) for d in reading.decisive)
    review = any(on_box(d, truth) for d in reading.contested + reading.possible)
    return {"non_covered": any(d.cls == "non_covered" for d in sure), "drug": any(d.cls == "drug" for d in sure),
            "accuses": accuses, "unclear_only": review and not accuses,
            "read_as": best.cls if best else "missed", "nc_score": max(nc, default=0.0)}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    return {"boxes": n, "non_covered": round(sum(r["non_covered"] for r in rows) / n, 4),
            "drug": round(sum(r["drug"] for r in rows) / n, 4),
            "accuses_single_frame": round(sum(r["accuses"] for r in rows) / n, 4),
            "goods_unclear_only": round(sum(r["unclear_only"] for r in rows) / n, 4),
            "read_as": dict(sorted(Counter(r["read_as"] for r in rows).items())),
            "mean_top_non_covered_score": round(float(np.mean([r["nc_score"] for r in rows])), 4)}


def evaluate_drugs(detector: FrameDetector, boxes: Sequence[DrugBox], scenes: dict[str, np.ndarray], *,
                   options: GoodsOptions, h264: bool = True, save: Path | None = None,
                   progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """``options``: the goods rule's thresholds (``GoodsOptions.from_config(settings)``)."""
    min_score = options.min_score
    rows: list[dict[str, Any]] = []
    for bg_name, bg in scenes.items():
        progress(bg_name)
        jobs = [(box, width, k) for box in boxes for width in WIDTHS for k in range(POSITIONS)]
        made = [compose(bg, box, width, f"{box.photo}|{box.name}|{bg_name}|{width}|{k}") for box, width, k in jobs]
        frames = [bg] + [m[0] for m in made]
        if h264:
            frames = h264_roundtrip(frames)
        bare = [d for d in detector.detect([frames[0]])[0] if d.score >= min_score]
        for (box, width, k), frame, (_, truth) in zip(jobs, frames[1:], made):
            found = _not_background(detector.detect([frame])[0], bare)
            rows.append({"photo": box.photo, "box": box.name, "background": bg_name, "width": width,
                         **score_box(found, truth, options)})
            if save is not None:
                save.mkdir(parents=True, exist_ok=True)
                name = f"{box.name}_{bg_name}_{width}_{k}".replace(" ", "-").replace("/", "-")
                cv2.imwrite(str(save / f"{name}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    by: dict[str, dict[str, list[dict[str, Any]]]] = {"photo": defaultdict(list), "width": defaultdict(list),
                                                      "background": defaultdict(list)}
    for r in rows:
        for key in by:
            by[key][str(r[key])].append(r)
    return {"min_score": min_score, "rival_min_score": options.rival_min_score,
            "review_min_score": options.review_min_score, "match": f"IoU >= {MATCH_IOU} or centre inside",
            "accuses_note": "single frame: an upper bound (the rule also needs the reading held across frames)",
            "h264": h264,
            "widths": list(WIDTHS), "backgrounds": list(scenes), "overall": _summary(rows),
            **{f"by_{key}": {k: _summary(v) for k, v in groups.items()} for key, groups in by.items()}}
