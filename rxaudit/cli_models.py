"""``rxaudit detect``, ``rxaudit dataset render|export`` and ``rxaudit train``: the model side of the
command line (the counter detector and its retraining loop)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rxaudit.cli import settings_from_args
from rxaudit.errors import InputError

FACE_FOOTAGE = Path(__file__).resolve().parent.parent / "tests" / "data" / "footage"  # real clips (CC BY 4.0)


def cmd_detect(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from rxaudit.counter_audit import load_models
    from rxaudit.detect import detect_paths

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
                            val_seed=args.val_seed, backgrounds=args.backgrounds, workers=args.workers)
    print(f"{counts['images']} images, {counts['objects']} boxes -> {args.out / 'data.yaml'}")
    return 0


def cmd_dataset_export(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from rxaudit.db.engine import make_engine, migrate, session_factory, transaction
    from rxaudit.retrain import export_dataset

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
    from vision.training import train

    data = args.data / "data.yaml" if args.data.is_dir() else args.data
    if not data.is_file():
        raise InputError(f"{args.data}: no data.yaml (make one with `rxaudit dataset export|render`)")
    base = str(args.base or Path(settings.object_model).with_suffix(".pt"))
    result = train(data, args.out, base=base, init_from=args.init_from, epochs=args.epochs,
                   imgsz=args.imgsz, batch=args.batch, device=args.device, workers=args.workers,
                   lr0=args.lr0)
    print(json.dumps(result.metrics, indent=2))
    print(f"\nmodel: {result.onnx}\nuse it: RXAUDIT_OBJECT_MODEL={result.onnx} rxaudit audit ...")
    return 0


def cmd_bench_models(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from rxaudit.bench_models import bench_models

    faces = args.face_footage if args.face_footage is not None else FACE_FOOTAGE
    result = bench_models(settings, frames=args.frames, video=args.video,
                          face_footage=faces if faces.is_dir() and str(faces) != "-" else None)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


def register(sub, common: Callable[[argparse.ArgumentParser], None]) -> None:
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
    q.set_defaults(func=cmd_dataset_render)
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

    p = sub.add_parser("train", help="fine-tune the counter detector (needs the training extra)")
    p.add_argument("--from", dest="data", type=Path, required=True, help="a dataset folder or data.yaml")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--base", help="weights or a yolo11n.yaml-style config (default: the shipped .pt)")
    p.add_argument("--init-from", type=Path, help="copy matching layers from these weights first")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--imgsz", type=int, default=416)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--lr0", type=float, help="learning rate (AdamW); default: ultralytics picks one")
    common(p)
    p.set_defaults(func=cmd_train)
