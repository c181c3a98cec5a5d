"""The retraining loop: inspectors' verdicts -> an ultralytics dataset (``rxaudit dataset export``).

For each settlement whose flags were reviewed, the raw frame at the swipe (``frames/<stem>.jpg``,
saved by the audit beside the drawn keyframe) becomes one image. Its labels are, in order:

1. the corrected boxes of the latest verdict that gave some (``[]``: the frame shows none);
2. else, for a *confirmed* flag, the detector's own boxes at or above ``min_score``;
3. else (dismissed without corrections) the frame is skipped: the detector was wrong somewhere,
   but nobody said what is right, and a guess would teach the model a mistake.

A stored correction that fails the review form's check (``rxaudit.boxes``) skips its frame, with the
reason in the summary; the rest of the export goes on.

Images split into train/val by a hash of the settlement id (stable across exports).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from sqlalchemy import select
from sqlalchemy.orm import Session

from rxaudit.boxes import check_boxes
from audit.counter_audit import raw_frame_name
from database.models import FlagRow, Verdict
from rxaudit.errors import InputError
from sample_footage.detection_set import write_data_yaml, yolo_label_lines
from sample_footage.goods import CLASSES


@dataclass
class ExportSummary:
    images: dict[str, int] = field(default_factory=lambda: {"train": 0, "val": 0})
    boxes: int = 0
    from_corrections: int = 0
    from_detections: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # settlement id -> why

    def to_json(self) -> dict[str, Any]:
        return {"images": self.images, "boxes": self.boxes, "from_corrections": self.from_corrections,
                "from_detections": self.from_detections, "skipped": self.skipped}


def detector_boxes(evidence: dict[str, Any], names: tuple[str, ...], min_score: float) -> list[dict[str, Any]]:
    """The counter detector's boxes drawn on a flag's keyframe (labels "<cls> <score>")."""
    out = []
    for item in evidence.get("items", [])[:1]:
        for b in item.get("boxes", []):
            cls, _, score = b["label"].partition(" ")
            try:
                value = float(score)
            except ValueError:
                continue
            if cls in names and value >= min_score:
                out.append({"cls": cls, "box": b["box"]})
    return out


def reviewed(session: Session) -> dict[str, list[tuple[FlagRow, Verdict]]]:
    """Per settlement: each reviewed flag with its latest verdict."""
    latest: dict[int, Verdict] = {}
    for v in session.scalars(select(Verdict).order_by(Verdict.created_at, Verdict.id)):
        latest[v.flag_id] = v
    out: dict[str, list[tuple[FlagRow, Verdict]]] = {}
    for flag in session.scalars(select(FlagRow).where(FlagRow.id.in_(latest)).order_by(FlagRow.id)):
        out.setdefault(flag.settlement_id, []).append((flag, latest[flag.id]))
    return out


def labels_for(pairs: list[tuple[FlagRow, Verdict]], names: tuple[str, ...],
               min_score: float) -> tuple[list[dict[str, Any]] | None, str]:
    corrected = [v for _, v in pairs if v.boxes is not None]
    if corrected:
        return max(corrected, key=lambda v: (v.created_at, v.id)).boxes, "corrections"
    confirmed = [f for f, v in pairs if v.action == "confirm"]
    if confirmed:
        return detector_boxes(confirmed[0].evidence, names, min_score), "detections"
    return None, "dismissed or escalated without corrected boxes"


def stored_problem(boxes: Any, source: str, frame: tuple[int, int]) -> str | None:
    """Why a reviewer's stored correction cannot be used (checked as the review form checks it; a
    row written before that check may hold ``null`` or a box outside the frame); None when it can.
    The detector's own boxes are clamped to the frame instead."""
    if source != "corrections":
        return None
    try:
        check_boxes(boxes, frame)
    except InputError as exc:
        return f"stored corrected boxes unusable: {exc}"
    return None


def split_of(settlement_id: str, val_fraction: float) -> str:
    bucket = int(hashlib.sha256(settlement_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if bucket < val_fraction else "train"


def export_dataset(session: Session, evidence_dir: Path, out: Path, *, min_score: float = 0.5,
                   val_fraction: float = 0.2, names: tuple[str, ...] = CLASSES) -> ExportSummary:
    summary = ExportSummary()
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty; export into a new folder")
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for settlement_id, pairs in reviewed(session).items():
        frame = Path(evidence_dir) / raw_frame_name(settlement_id)
        if not frame.is_file():
            summary.skipped[settlement_id] = "no raw frame in the evidence folder"
            continue
        boxes, source = labels_for(pairs, names, min_score)
        if boxes is None:
            summary.skipped[settlement_id] = source
            continue
        image = cv2.imread(str(frame))
        if image is None:
            summary.skipped[settlement_id] = "raw frame cannot be read"
            continue
        height, width = image.shape[:2]
        problem = stored_problem(boxes, source, (width, height))
        if problem is not None:
            summary.skipped[settlement_id] = problem
            continue
        unknown = sorted({b["cls"] for b in boxes} - set(names))
        if unknown:
            summary.skipped[settlement_id] = f"unknown classes {unknown}; known: {list(names)}"
            continue
        split = split_of(settlement_id, val_fraction)
        stem = frame.stem
        shutil.copyfile(frame, out / "images" / split / f"{stem}.jpg")
        rows = [(names.index(b["cls"]), *[min(max(v, 0.0), lim) for v, lim in
                                            zip(b["box"], (width, height, width, height))]) for b in boxes]
        (out / "labels" / split / f"{stem}.txt").write_text(yolo_label_lines(rows, width, height))
        summary.images[split] += 1
        summary.boxes += len(rows)
        if source == "corrections":
            summary.from_corrections += 1
        else:
            summary.from_detections += 1
    _ensure_val(out, summary)
    write_data_yaml(out, names)
    (out / "manifest.json").write_text(json.dumps(summary.to_json(), indent=2), encoding="utf-8")
    return summary


def _ensure_val(out: Path, summary: ExportSummary) -> None:
    """Training needs a validation image: with none, move one training image over."""
    if summary.images["val"] or summary.images["train"] < 2:
        return
    first = sorted((out / "images" / "train").glob("*.jpg"))[0]
    first.rename(out / "images" / "val" / first.name)
    label = out / "labels" / "train" / f"{first.stem}.txt"
    label.rename(out / "labels" / "val" / label.name)
    summary.images["train"] -= 1
    summary.images["val"] += 1
