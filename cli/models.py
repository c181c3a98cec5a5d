"""``rxaudit calibrate-faces``, ``detect``, ``dataset render|export``, ``train`` and the other model
commands registered below: the model side of the command line (the counter detector and its
retraining loop)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from cli.common import common, settings_from_args
from rxaudit.errors import InputError
from vision.real_goods import SNACK_HELD_OUT_VIDEO

FACE_FOOTAGE = Path(__file__).resolve().parent.parent / "tests" / "data" / "footage"  # real clips (CC BY 4.0)


def cmd_detect(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from audit.counter_audit import load_models
    from vision.detect import detect_paths

    result = detect_paths(args.paths, load_models(settings), fps=args.fps)
    text = json.dumps(result, ensure_ascii=False)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
        print(f"{len(result['items'])} frames -> {args.json}")
    else:
        print(text)
    for error in result["errors"]:
        print(f"rxaudit: {error['path']}: {error['error']}", file=sys.stderr)
    return 1 if result["errors"] and not result["items"] else 0


def cmd_dataset_render(args: argparse.Namespace) -> int:
    from sample_footage.detection_set import render_dataset

    counts = render_dataset(args.out, train=args.train, val=args.val, seed=args.seed,
                            val_seed=args.val_seed, backgrounds=args.backgrounds, workers=args.workers,
                            counter_rows=args.counter_rows)
    print(f"{counts['images']} images, {counts['objects']} boxes -> {args.out / 'data.yaml'}")
    return 0


def cmd_dataset_real(args: argparse.Namespace) -> int:
    from sample_footage.real_goods_set import write_real_dataset
    from vision.real_goods import read_groceries, read_snacks, split_groceries, split_snacks

    train_snacks = split_snacks(read_snacks(args.snacks), args.held_out_video)[0]
    groceries = split_groceries(read_groceries(args.groceries))[0] if args.groceries else []
    counts = write_real_dataset(args.out, snacks=train_snacks, groceries=groceries,
                                composites=args.composites, crowded=args.crowded, seed=args.seed,
                                backgrounds=args.backgrounds)
    print(json.dumps(counts))
    return 0


def cmd_dataset_export(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from database.engine import make_engine, migrate, session_factory, transaction
    from training.retrain import export_dataset

    engine = make_engine(settings.db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        summary = export_dataset(session, Path(settings.evidence_dir), args.out,
                                 min_score=settings.goods_min_score, val_fraction=args.val_fraction)
    engine.dispose()
    print(json.dumps(summary.to_json(), indent=2))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from vision.training import merge_datasets, train

    sets = [d / "data.yaml" if d.is_dir() else d for d in args.data]
    for data, given in zip(sets, args.data):
        if not data.is_file():
            raise InputError(f"{given}: no data.yaml (make one with `rxaudit dataset export|render|real`)")
    data = merge_datasets(sets, args.out / "merged")
    base = str(args.base or Path(settings.object_model).with_suffix(".pt"))
    result = train(data, args.out, base=base, init_from=args.init_from, epochs=args.epochs,
                   imgsz=args.imgsz, batch=args.batch, device=args.device, workers=args.workers,
                   lr0=args.lr0, keep=args.keep)
    print(json.dumps(result.metrics, indent=2))
    print(f"\nmodel: {result.onnx}\nuse it: RXAUDIT_OBJECT_MODEL={result.onnx} rxaudit audit ...")
    return 0


def cmd_average_weights(args: argparse.Namespace) -> int:
    from vision.training import average_weights

    pt, onnx = average_weights(args.weights, args.out)
    print(f"averaged {len(args.weights)} checkpoints -> {pt}\nmodel: {onnx}\n"
          f"next: rxaudit calibrate-goods --model {onnx}; rxaudit eval-goods --model {onnx} ...")
    return 0


def cmd_bench_models(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from benchmarks.models import bench_models

    faces = args.face_footage if args.face_footage is not None else FACE_FOOTAGE
    result = bench_models(settings, frames=args.frames, video=args.video,
                          face_footage=faces if faces.is_dir() and str(faces) != "-" else None)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


def cmd_eval_goods(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from reconcile.goods import GoodsOptions
    from training.eval_goods import evaluate
    from vision.goods_head import SecondOpinionDetector, counter_detector
    from vision.real_goods import read_groceries, read_snacks, split_groceries, split_snacks

    model = args.model or settings.object_model
    detector = counter_detector(settings, model, head=args.head)
    snacks = split_snacks(read_snacks(args.snacks), args.held_out_video)[1] if args.snacks else []
    groceries = []
    if args.groceries:
        train, held = split_groceries(read_groceries(args.groceries))
        groceries = held if not args.all_grocery_classes else train + held
    result = {"model": str(model), "goods_head": isinstance(detector, SecondOpinionDetector),
              **evaluate(detector, snacks=snacks, groceries=groceries, rendered=args.rendered,
                         rendered_seed=args.rendered_seed, min_score=settings.goods_min_score,
                         options=GoodsOptions.from_config(settings),
                         progress=lambda step: print(f"... {step}", file=sys.stderr))}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    if args.metrics:  # beside the rendered mAP in the model's metrics file
        metrics = json.loads(args.metrics.read_text(encoding="utf-8"))
        metrics["at_audit_thresholds"] = {k: v for k, v in result.items() if k != "model"}
        args.metrics.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return 0


def cmd_calibrate_goods(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from training.eval_goods import calibration_pairs, rendered_validation
    from vision.goods_calibration import calibration_path, fit
    from vision.objects import OnnxObjectDetector

    model = args.model or settings.object_model
    detector = OnnxObjectDetector(model, min_score=args.floor, threads=settings.onnx_threads, calibrated=False)
    pairs = calibration_pairs(detector, rendered_validation(args.seed, args.images))
    calibration = fit(pairs, f"rendered validation seed {args.seed}, {args.images} images, raw score >= {args.floor}")
    out = args.out or calibration_path(model)
    out.write_text(json.dumps(calibration.to_json(), indent=2), encoding="utf-8")
    for cls, curve in sorted(calibration.curves.items()):
        marks = ", ".join(f"{s:.2f}->{curve(s):.2f}" for s in (0.35, 0.5, 0.7, 0.9))
        print(f"{cls}: {curve.samples} detections; raw->calibrated {marks}")
    print(f"-> {out}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from training.face_calibration import calibrate_faces

    result = calibrate_faces(args.footage)
    print(json.dumps(result, indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("calibrate-faces", help="face distances on real footage, per visit")
    p.add_argument("--footage", type=Path, default=Path("../shared/footage"))
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("detect", help="run every detector on images or videos (1 fps): JSON out")
    p.add_argument("paths", type=Path, nargs="+")
    p.add_argument("--json", type=Path, help="write the JSON here instead of stdout")
    p.add_argument("--fps", type=float, default=1.0)
    common(p)
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("dataset", help="detector datasets").add_subparsers(dest="ds_cmd", required=True)
    q = p.add_parser("render", help="render a synthetic training set (domain randomisation)")
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--train", type=int, default=2000)
    q.add_argument("--val", type=int, default=300)
    q.add_argument("--seed", type=int, default=1)
    q.add_argument("--val-seed", type=int, default=2)
    q.add_argument("--backgrounds", type=Path, nargs="*", default=[], help="video/GIF/JPEG files")
    q.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    q.add_argument("--counter-rows", type=float, default=0.0,
                   help="share of images with goods laid side by side on a counter at audit-camera size")
    q.set_defaults(func=cmd_dataset_render)
    q = p.add_parser("real", help="the real goods sets (training splits only) -> an ultralytics dataset")
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--snacks", type=Path, required=True, help="e.g. ../shared/datasets/snacks")
    q.add_argument("--held-out-video", default=SNACK_HELD_OUT_VIDEO, help="kept out of training (scored by eval-goods)")
    q.add_argument("--groceries", type=Path, help="e.g. ../shared/datasets/groceries")
    q.add_argument("--composites", type=int, default=600, help="counter images with grocery products pasted in")
    q.add_argument("--crowded", type=int, default=600,
                   help="training snack frames with more real bags pasted over them (cut along their outlines)")
    q.add_argument("--seed", type=int, default=11)
    q.add_argument("--backgrounds", type=Path, nargs="*", default=[], help="video/GIF/JPEG files")
    q.set_defaults(func=cmd_dataset_real)
    q = p.add_parser("export", help="reviewed flags -> an ultralytics dataset (retraining)")
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--val-fraction", type=float, default=0.2)
    common(q)
    q.set_defaults(func=cmd_dataset_export)

    p = sub.add_parser("bench-models", help="CPU ms per frame of each detector at the audit's input size")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--video", type=Path, help="time on this video's frames (1 fps) instead of rendered ones")
    p.add_argument("--face-footage", type=Path, help="real GIF clips for the face detectors and encoders "
                   "(default: the repository's tests/data/footage; '-' skips faces)")
    p.add_argument("--json", type=Path)
    common(p)
    p.set_defaults(func=cmd_bench_models)

    p = sub.add_parser("eval-goods", help="the counter detector on held-out real goods, at the audit's thresholds")
    p.add_argument("--snacks", type=Path, help="the real snack set (YOLO polygons), e.g. ../shared/datasets/snacks")
    p.add_argument("--held-out-video", default=SNACK_HELD_OUT_VIDEO, help="the snack video never trained on")
    p.add_argument("--groceries", type=Path, help="the real grocery photos, e.g. ../shared/datasets/groceries")
    p.add_argument("--all-grocery-classes", action="store_true", help="also the classes trained on")
    p.add_argument("--rendered", type=int, default=300, help="rendered validation images (0: none)")
    p.add_argument("--rendered-seed", type=int, default=2)
    p.add_argument("--model", type=Path, help="an ONNX model (default: object_model)")
    p.add_argument("--head", action=argparse.BooleanOptionalAction, default=None,
                   help="with / without the goods head's second opinion (default: the goods_head setting)")
    p.add_argument("--json", type=Path)
    p.add_argument("--metrics", type=Path, help="also record the figures in this metrics.json")
    common(p)
    p.set_defaults(func=cmd_eval_goods)

    p = sub.add_parser("calibrate-goods", help="fit the counter detector's per-class score calibration")
    p.add_argument("--model", type=Path, help="an ONNX model (default: object_model)")
    p.add_argument("--images", type=int, default=800, help="rendered images never trained on")
    p.add_argument("--seed", type=int, default=4, help="their seed (training used 1 and 3, validation 2)")
    p.add_argument("--floor", type=float, default=0.1, help="lowest raw score fitted")
    p.add_argument("--out", type=Path, help="default: <model>.calibration.json beside the model")
    common(p)
    p.set_defaults(func=cmd_calibrate_goods)

    p = sub.add_parser("train", help="fine-tune the counter detector (needs the training extra)")
    p.add_argument("--from", dest="data", type=Path, required=True, action="append",
                   help="a dataset folder or data.yaml; repeat to mix several (reviewed boxes, real sets, renders)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--base", help="weights or a yolo11n.yaml-style config (default: the shipped .pt)")
    p.add_argument("--init-from", type=Path, help="copy matching layers from these weights first")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--imgsz", type=int, default=416)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--lr0", type=float, help="learning rate (AdamW); default: ultralytics picks one")
    p.add_argument("--keep", choices=("best", "last"), default="best",
                   help="the epoch kept: best on the validation split, or the last")
    common(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("average-weights", help="average fine-tuned checkpoints of the counter detector (a model soup)")
    p.add_argument("weights", type=Path, nargs="+", help="two or more .pt checkpoints of one model")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_average_weights)
