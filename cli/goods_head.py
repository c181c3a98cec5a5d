"""``rxaudit train-goods-head``: the goods head (``vision.goods_head``) trained on renders and real
non-drug crops (``training.crop_head``; never the drug photos), with its held-out figures."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cli.common import common, settings_from_args
from vision.real_goods import SNACK_HELD_OUT_VIDEO


def cmd_train_goods_head(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from rxaudit.hashing import sha256_file
    from sample_footage.detection_set import _init
    from training.crop_head import (accuse_crops, accuse_threshold, by_source, featurise, fit_head, held_out_crops,
                                    training_crops)
    from vision.goods_head import CropFeatures
    from vision.real_goods import read_groceries, read_snacks, split_groceries, split_snacks

    start = time.time()
    features_path = args.features or settings.goods_head_features
    features = CropFeatures(features_path, threads=settings.onnx_threads)
    snack_train, snack_held = split_snacks(read_snacks(args.snacks), SNACK_HELD_OUT_VIDEO)
    groc_train, groc_held = split_groceries(read_groceries(args.groceries))
    _init([])  # the photo renders' backgrounds: rendered counters and plain tops only
    print("... training crops", file=sys.stderr)
    train = featurise(features, training_crops(snack_train, groc_train, photo_images=args.photo_images,
                                               plain=args.plain, detector_renders=args.detector_renders,
                                               real=not args.renders_only))
    counts = {s: train.sources.count(s) for s in sorted(set(train.sources))}
    head = fit_head(train.features, train.labels, l2=args.l2,
                    meta={"features": features_path.name, "features_sha256": sha256_file(features_path),
                          "training_crops": counts, "drug_score": settings.goods_head_drug_score})
    head.meta["accuse_below"] = accuse_threshold(head, featurise(features, accuse_crops()))
    print("... held-out crops", file=sys.stderr)
    held = featurise(features, held_out_crops(snack_held, groc_held))
    head.meta["held_out"] = by_source(head, held, settings.goods_head_drug_score)
    out = args.out or settings.goods_head_model
    out.write_text(json.dumps(head.to_json()), encoding="utf-8")
    print(json.dumps({"training_crops": counts, "accuse_below": head.meta["accuse_below"],
                      "held_out": head.meta["held_out"],
                      "seconds": round(time.time() - start), "out": str(out)}, indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("train-goods-head",
                       help="the goods head: drug / not-drug on each goods crop (renders and real non-drug crops)")
    p.add_argument("--snacks", type=Path, default=Path("../shared/datasets/snacks"),
                   help="the real snack set (its training video trains, the held-out video is scored)")
    p.add_argument("--groceries", type=Path, default=Path("../shared/datasets/groceries"))
    p.add_argument("--features", type=Path, help="the crop feature model (default: goods_head_features)")
    p.add_argument("--photo-images", type=int, default=900, help="photo-styled training images (seed 31)")
    p.add_argument("--plain", type=int, default=800, help="plain rendered training crops")
    p.add_argument("--detector-renders", type=int, default=800,
                   help="the counter detector's rendered training images (seed 3) whose goods are cropped")
    p.add_argument("--renders-only", action="store_true", help="no real crop in training (a measured variant)")
    p.add_argument("--l2", type=float, default=1e-2)
    p.add_argument("--out", type=Path, help="default: goods_head_model")
    common(p)
    p.set_defaults(func=cmd_train_goods_head)
