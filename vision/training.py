"""Training and export of the counter detector (``rxaudit train``): ultralytics under the hood.

Needs the training extra (``pip install -e '.[train]'``: torch, torchvision, ultralytics, onnx);
the audit path never imports this module's dependencies. ultralytics is imported inside functions
so that ``import vision.training`` costs nothing and fails only when training is asked for.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rxaudit.errors import ConfigError

# The shipped counter detector: input (height, width) of the exported ONNX graph. 640x360 CCTV
# frames letterbox to 416x234 inside it: one scale for training and for the audit.
EXPORT_SHAPE = (256, 416)


@dataclass(frozen=True)
class TrainResult:
    weights: Path  # best .pt
    onnx: Path
    metrics: dict[str, Any]


def _ultralytics():
    os.environ.setdefault("YOLO_OFFLINE", "1")  # no hub or GitHub downloads at run time
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise ConfigError("training needs the training extra: pip install -e '.[train]' "
                          f"(torch, torchvision, ultralytics); {exc}") from exc
    return YOLO


def evaluate(weights: Path, data_yaml: Path, *, imgsz: int, device: str, batch: int = 32) -> dict[str, Any]:
    """mAP50 and mAP50-95 per class on the dataset's ``val`` split."""
    YOLO = _ultralytics()
    model = YOLO(str(weights))
    result = model.val(data=str(data_yaml), split="val", imgsz=imgsz, batch=batch, device=device,
                       plots=False, verbose=False, workers=0)
    names = result.names
    per_class = {}
    for k, cls in enumerate(result.box.ap_class_index):
        per_class[names[int(cls)]] = {"map50": round(float(result.box.ap50[k]), 4),
                                      "map50_95": round(float(result.box.ap[k]), 4)}
    return {"map50": round(float(result.box.map50), 4), "map50_95": round(float(result.box.map), 4),
            "precision": round(float(result.box.mp), 4), "recall": round(float(result.box.mr), 4),
            "per_class": per_class}


def export_onnx(weights: Path, out: Path, shape: tuple[int, int] = EXPORT_SHAPE) -> Path:
    """Static-shape ONNX (class names are in its metadata, read back by ``OnnxObjectDetector``)."""
    YOLO = _ultralytics()
    exported = Path(YOLO(str(weights)).export(format="onnx", imgsz=list(shape), dynamic=False,
                                              simplify=False, opset=17))
    out.parent.mkdir(parents=True, exist_ok=True)
    if exported.resolve() != Path(out).resolve():
        shutil.copyfile(exported, out)
    return out


def average_weights(weights: Sequence[Path], out_dir: Path) -> tuple[Path, Path]:
    """The uniform average of fine-tuned checkpoints of one model (a "model soup", Wortsman et al.,
    ICML 2022): two stages fine-tuned from one another keep what each learnt better than either
    alone. Writes ``best.pt`` (the last checkpoint's metadata, averaged weights) and
    ``counter-objects.onnx`` into ``out_dir``; calibrate and evaluate it like a trained one."""
    if len(weights) < 2:
        raise ConfigError("average-weights needs at least two checkpoints")
    _ultralytics()
    import torch

    models = []
    for path in weights:
        if not Path(path).is_file():
            raise ConfigError(f"checkpoint {path} does not exist")
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        held = checkpoint if isinstance(checkpoint, dict) else {}
        model = held.get("ema") if held.get("ema") is not None else held.get("model")  # EMA: what training evaluates
        if not hasattr(model, "state_dict"):
            raise ConfigError(f"checkpoint {path} holds no ultralytics model")
        models.append((checkpoint, model))
    states = [model.state_dict() for _, model in models]
    first = states[0]
    for path, (_, model), state in zip(weights[1:], models[1:], states[1:]):
        if state.keys() != first.keys() or any(state[k].shape != first[k].shape for k in first) \
                or getattr(model, "names", None) != getattr(models[0][1], "names", None):
            raise ConfigError(f"checkpoint {path} is not the same model (layers or classes) as {weights[0]}")
    averaged = {k: (sum(s[k].double() for s in states) / len(states)).to(first[k].dtype)
                if first[k].is_floating_point() else first[k] for k in first}
    checkpoint, model = models[-1]
    model.load_state_dict(averaged)
    checkpoint["model"], checkpoint["ema"] = model, None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pt = out_dir / "best.pt"
    torch.save(checkpoint, pt)
    return pt, export_onnx(pt, out_dir / "counter-objects.onnx")


def merge_datasets(data_yamls: list[Path], out: Path) -> Path:
    """One data.yaml over several ultralytics datasets with the same class names (reviewed boxes
    exported by ``rxaudit dataset export``, the real sets, renders), for one ``rxaudit train`` run."""
    import yaml

    if len(data_yamls) == 1:
        return Path(data_yamls[0])
    names = None
    splits: dict[str, list[str]] = {"train": [], "val": []}
    for path in data_yamls:
        if not Path(path).is_file():
            raise ConfigError(f"dataset file {path} does not exist")
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        these = data.get("names")
        these = [these[k] for k in sorted(these)] if isinstance(these, dict) else these
        if names is None:
            names = these
        elif these != names:
            raise ConfigError(f"{path}: classes {these} differ from {data_yamls[0]}'s {names}")
        root = Path(data.get("path") or Path(path).parent)
        root = root if root.is_absolute() else (Path(path).parent / root).resolve()
        for split in splits:
            for entry in [data[split]] if isinstance(data.get(split), str) else data.get(split) or []:
                if (root / entry).exists() and any((root / entry).iterdir()):
                    splits[split].append(str(root / entry))
    if not splits["train"] or not splits["val"]:
        raise ConfigError("the merged datasets have no training or no validation images")
    out.mkdir(parents=True, exist_ok=True)
    merged = out / "data.yaml"
    merged.write_text(yaml.safe_dump({"train": splits["train"], "val": splits["val"],
                                      "names": dict(enumerate(names or []))}, sort_keys=False), encoding="utf-8")
    return merged


def train(data_yaml: Path, out_dir: Path, *, base: str, init_from: Path | None = None,
          epochs: int = 40, imgsz: int = 416, batch: int = 64, device: str = "cpu",
          workers: int = 2, seed: int = 0, patience: int = 100, lr0: float | None = None,
          cache: bool = False, keep: str = "best") -> TrainResult:
    """Train from ``base`` (a ``yolo11n.yaml``-style config, or a ``.pt`` to fine-tune), optionally
    initialised with the matching layers of ``init_from`` (the shipped yolo11n-pose backbone).
    Writes ``best.pt``, ``counter-objects.onnx`` and ``metrics.json`` into ``out_dir``.

    ``keep="last"`` keeps the last epoch instead of the one that scored best on the validation
    split: when that split is rendered and the training mixes in real images, "best on renders"
    favours the epochs that learnt least from the real ones."""
    if keep not in ("best", "last"):
        raise ConfigError(f"keep must be 'best' or 'last', not {keep!r}")
    if not Path(data_yaml).is_file():
        raise ConfigError(f"dataset file {data_yaml} does not exist")
    YOLO = _ultralytics()
    model = YOLO(base)
    if init_from is not None:
        model.load(str(init_from))
    out_dir = Path(out_dir).resolve()
    # ultralytics' optimizer "auto" picks its own rate and ignores lr0: a given lr0 needs an optimizer
    extra: dict[str, Any] = {} if lr0 is None else {"lr0": lr0, "optimizer": "AdamW"}
    model.train(data=str(data_yaml), epochs=epochs, imgsz=imgsz, batch=batch, device=device,
                workers=workers, seed=seed, deterministic=True, patience=patience, plots=False,
                project=str(out_dir), name="run", exist_ok=True, cache="ram" if cache else False,
                amp=False, verbose=False, **extra)
    best = out_dir / "run" / "weights" / f"{keep}.pt"
    weights = out_dir / "best.pt"
    shutil.copyfile(best, weights)
    metrics = evaluate(weights, Path(data_yaml), imgsz=imgsz, device=device)
    metrics.update({"epochs": epochs, "imgsz": imgsz, "base": str(base), "kept": f"{keep} epoch",
                    "init_from": None if init_from is None else Path(init_from).name,
                    "data": str(data_yaml), "export_shape": list(EXPORT_SHAPE)})
    onnx_path = export_onnx(weights, out_dir / "counter-objects.onnx")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return TrainResult(weights, onnx_path, metrics)
