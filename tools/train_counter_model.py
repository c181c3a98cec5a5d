"""Reproduce the shipped counter detector (vision/models/counter-objects.onnx + metrics).

    python tools/train_counter_model.py --out /tmp/counter-run [--device 0] [--train 12000 --epochs 40]
    python tools/train_counter_model.py --out /tmp/small --train 600 --val 150 --epochs 3  # CPU-sized

Steps: fetch the checked yolo11n-pose.pt (tools/export_pose_model.py --pt-only) unless --pose-pt
is given; render the dataset (train seed 1, validation seed 2, never used for training) with real
background frames (``--backgrounds``: video/GIF/JPEG files; bottle-detection.mp4 is held out for the
real-footage check); train yolo11n from ``yolo11n.yaml`` initialised with the pose model's matching
layers; evaluate on the validation split; export ONNX. Needs the training extra (torch, ultralytics);
imports nothing of rxaudit's audit path, so it runs on a bare GPU machine with cv2 + numpy + yaml.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=12000)
    parser.add_argument("--val", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--val-seed", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--backgrounds", type=Path, nargs="*", default=[])
    parser.add_argument("--pose-pt", type=Path, default=None)
    parser.add_argument("--extract-to", type=Path, default=None,
                        help="first turn video/GIF --backgrounds into JPEG frames here (every 6th, 30 at most)")
    parser.add_argument("--base", default="yolo11n.yaml",
                        help="yolo11n.yaml (from the pose backbone) or a .pt to fine-tune")
    args = parser.parse_args(argv)

    from sample_footage.detection_set import read_frames, render_dataset

    if args.extract_to is not None:
        import cv2

        args.extract_to.mkdir(parents=True, exist_ok=True)
        for video in args.backgrounds:
            for k, frame in enumerate(read_frames(video, every=6, limit=30)):
                cv2.imwrite(str(args.extract_to / f"{video.stem}_{k:02d}.jpg"),
                            cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        args.backgrounds = sorted(args.extract_to.glob("*.jpg"))
        print(json.dumps({"background_frames": len(args.backgrounds)}), flush=True)
        if args.train == 0:
            return 0
    from vision.training import train

    args.out.mkdir(parents=True, exist_ok=True)
    pose = args.pose_pt
    if args.base.endswith(".pt"):
        pose = None  # fine-tuning: every layer comes from the given weights
    elif pose is None:
        from tools.export_pose_model import fetch_pose_weights
        pose = fetch_pose_weights(args.out / "yolo11n-pose.pt")
    started = time.monotonic()
    data = args.out / "dataset"
    counts = render_dataset(data, train=args.train, val=args.val, seed=args.seed, val_seed=args.val_seed,
                            backgrounds=args.backgrounds, workers=args.workers)
    rendered = time.monotonic()
    print(json.dumps({"rendered": counts, "render_s": round(rendered - started, 1)}), flush=True)
    result = train(data / "data.yaml", args.out, base=args.base, init_from=pose, epochs=args.epochs,
                   imgsz=args.imgsz, batch=args.batch, device=args.device, workers=min(args.workers, 8),
                   seed=0, cache=True)
    result.metrics.update({"train_images": args.train, "val_images": args.val, "seed": args.seed,
                           "val_seed": args.val_seed, "train_s": round(time.monotonic() - rendered, 1),
                           "device": args.device,
                           "background_files": len(args.backgrounds)})
    (args.out / "metrics.json").write_text(json.dumps(result.metrics, indent=2), encoding="utf-8")
    print(json.dumps(result.metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
