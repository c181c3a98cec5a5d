"""``rxaudit eval-drugs``: the counter detector on real drug boxes at counter scale (validation only;
see ``training.drug_photos``), and ``rxaudit dataset-photo``: the training images that break the
"real print means non-covered" shortcut from both sides (``sample_footage.photo_set``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import common, settings_from_args
from rxaudit.errors import InputError
from vision.real_goods import SNACK_HELD_OUT_VIDEO


def _snack_background(snacks: Path | None) -> Path | None:
    """The first frame of the held-out snack video (a glass counter), or None with ``--snacks -``."""
    if snacks is None or str(snacks) == "-":
        return None
    frames = sorted((snacks / "images").glob(f"{SNACK_HELD_OUT_VIDEO}_*"))
    if not frames:
        raise InputError(f"{snacks}: no frames of the held-out snack video {SNACK_HELD_OUT_VIDEO} under images/")
    return frames[0]


def cmd_eval_drugs(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from reconcile.goods import GoodsOptions
    from training.drug_photos import backgrounds, drug_boxes, evaluate_drugs
    from vision.goods_head import SecondOpinionDetector, counter_detector

    model = args.model or settings.object_model
    detector = counter_detector(settings, model, head=args.head)
    footage = None if str(args.footage) == "-" else args.footage
    scenes = backgrounds(footage, _snack_background(args.snacks))
    result = {"model": str(model), "goods_head": isinstance(detector, SecondOpinionDetector),
              "photos": str(args.photos),
              **evaluate_drugs(detector, drug_boxes(args.photos), scenes, options=GoodsOptions.from_config(settings),
                               h264=not args.jpeg_only, save=args.save,
                               progress=lambda step: print(f"... {step}", file=sys.stderr))}
    if args.style_check:
        from sample_footage.detection_set import _init
        from training.style_check import photo_rendered, restyled_snacks
        from vision.real_goods import read_snacks, split_snacks

        print("... style check", file=sys.stderr)
        _init([])  # the photo renders' backgrounds: rendered counters and plain tops only
        held = split_snacks(read_snacks(args.snacks), SNACK_HELD_OUT_VIDEO)[1] if str(args.snacks) != "-" else []
        result["style_check"] = {"restyled_held_out_snacks": restyled_snacks(detector, held, settings.goods_min_score),
                                 "photo_rendered": photo_rendered(detector, args.style_check, settings.goods_min_score)}
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    return 0


def cmd_dataset_photo(args: argparse.Namespace) -> int:
    from sample_footage.photo_set import write_photo_dataset
    from vision.real_goods import read_snacks, split_snacks

    snacks = split_snacks(read_snacks(args.snacks), args.held_out_video)[0] if args.snacks else []
    counts = write_photo_dataset(args.out, train=args.train, val=args.val, seed=args.seed, val_seed=args.val_seed,
                                 snacks=snacks, restyled=args.restyled, backgrounds=args.backgrounds)
    print(json.dumps(counts))
    return 0


def cmd_calibrate_goods_real(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from sample_footage.detection_set import _init
    from training.real_calibration import pooled_pairs, sources
    from vision.goods_calibration import calibration_path, fit
    from vision.objects import OnnxObjectDetector
    from vision.real_goods import read_snacks, split_snacks

    model = args.model or settings.object_model
    detector = OnnxObjectDetector(model, min_score=args.floor, threads=settings.onnx_threads, calibrated=False)
    train_snacks = split_snacks(read_snacks(args.snacks), args.held_out_video)[0]
    _init([])  # backgrounds: rendered counters and plain tops
    pairs, counts = pooled_pairs(detector, sources(train_snacks, args.images, args.photo),
                                 progress=lambda step: print(f"... {step}", file=sys.stderr))
    calibration = fit(pairs, "; ".join(counts) + f"; raw score >= {args.floor}")
    out = args.out or calibration_path(model)
    out.write_text(json.dumps(calibration.to_json(), indent=2), encoding="utf-8")
    print(json.dumps(counts, indent=2))
    for cls, curve in sorted(calibration.curves.items()):
        marks = ", ".join(f"{s:.2f}->{curve(s):.2f}" for s in (0.35, 0.5, 0.7, 0.9))
        print(f"{cls}: {curve.samples} detections; raw->calibrated {marks}")
    print(f"-> {out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("calibrate-goods-real",
                       help="the counter detector's calibration on real snack pixels beside renders (never the drug photos)")
    p.add_argument("--model", type=Path, help="an ONNX model (default: object_model)")
    p.add_argument("--snacks", type=Path, required=True, help="the real snack set; its training video is used")
    p.add_argument("--held-out-video", default=SNACK_HELD_OUT_VIDEO, help="left for eval-goods")
    p.add_argument("--images", type=int, default=800, help="rendered validation images of seed 4")
    p.add_argument("--photo", type=int, default=300, help="photo-styled renders of seed 6")
    p.add_argument("--floor", type=float, default=0.1, help="lowest raw score fitted")
    p.add_argument("--out", type=Path, help="default: <model>.calibration.json beside the model")
    common(p)
    p.set_defaults(func=cmd_calibrate_goods_real)

    p = sub.add_parser("dataset-photo", help="photo-styled drugs and goods, and real snacks restyled as renders")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--train", type=int, default=1000)
    p.add_argument("--val", type=int, default=100)
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--val-seed", type=int, default=22, help="the style check (eval-drugs) uses seed 5: keep it out")
    p.add_argument("--snacks", type=Path, help="the real snack set; its training video is restyled")
    p.add_argument("--held-out-video", default=SNACK_HELD_OUT_VIDEO, help="never restyled for training")
    p.add_argument("--restyled", type=int, default=0, help="real snack frames given the render look")
    p.add_argument("--backgrounds", type=Path, nargs="*", default=[], help="video/GIF/JPEG files")
    p.set_defaults(func=cmd_dataset_photo)

    p = sub.add_parser("eval-drugs", help="real drug boxes at counter scale: how often read as non-covered / drug")
    p.add_argument("--photos", type=Path, required=True, help="the shared drug photos, e.g. ../shared/datasets/drug-photos")
    p.add_argument("--footage", type=Path, default=Path("../shared/footage"),
                   help="real clips whose frames serve as backgrounds ('-': plain backgrounds only)")
    p.add_argument("--snacks", type=Path, default=Path("../shared/datasets/snacks"),
                   help="the snack set: a held-out counter frame as a background ('-': none)")
    p.add_argument("--model", type=Path, help="an ONNX model (default: object_model)")
    p.add_argument("--head", action=argparse.BooleanOptionalAction, default=None,
                   help="with / without the goods head's second opinion (default: the goods_head setting)")
    p.add_argument("--style-check", type=int, default=300,
                   help="photo-styled renders of the held-out seed (and the restyled held-out snacks) to score; 0: none")
    p.add_argument("--jpeg-only", action="store_true", help="skip the H.264 round trip")
    p.add_argument("--save", type=Path, help="write the composed frames here (to look at)")
    p.add_argument("--json", type=Path)
    common(p)
    p.set_defaults(func=cmd_eval_drugs)
