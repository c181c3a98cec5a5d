"""``rxaudit eval-drugs``: the counter detector on real drug boxes at counter scale (validation only;
see ``training.drug_photos``)."""

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
    from training.drug_photos import backgrounds, drug_boxes, evaluate_drugs
    from vision.objects import OnnxObjectDetector

    model = args.model or settings.object_model
    detector = OnnxObjectDetector(model, min_score=settings.object_min_score, threads=settings.onnx_threads)
    footage = None if str(args.footage) == "-" else args.footage
    scenes = backgrounds(footage, _snack_background(args.snacks))
    result = {"model": str(model), "photos": str(args.photos),
              **evaluate_drugs(detector, drug_boxes(args.photos), scenes, min_score=settings.goods_min_score,
                               h264=not args.jpeg_only, save=args.save,
                               progress=lambda step: print(f"... {step}", file=sys.stderr))}
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    return 0


def register(sub) -> None:
    p = sub.add_parser("eval-drugs", help="real drug boxes at counter scale: how often read as non-covered / drug")
    p.add_argument("--photos", type=Path, required=True, help="the shared drug photos, e.g. ../shared/datasets/drug-photos")
    p.add_argument("--footage", type=Path, default=Path("../shared/footage"),
                   help="real clips whose frames serve as backgrounds ('-': plain backgrounds only)")
    p.add_argument("--snacks", type=Path, default=Path("../shared/datasets/snacks"),
                   help="the snack set: a held-out counter frame as a background ('-': none)")
    p.add_argument("--model", type=Path, help="an ONNX model (default: object_model)")
    p.add_argument("--jpeg-only", action="store_true", help="skip the H.264 round trip")
    p.add_argument("--save", type=Path, help="write the composed frames here (to look at)")
    p.add_argument("--json", type=Path)
    common(p)
    p.set_defaults(func=cmd_eval_drugs)
