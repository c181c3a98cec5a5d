"""Evidence files, served only through the app after the scoping check: keyframes, the clip around
the swipe (cut once, then cached). Case exports: ``api.case_file``. No request path reaches the file system: files
are found from what the database says, and resolved inside the evidence directory or the store."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import uuid
import weakref
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session

from ingest.stores import open_store
from api.flag_facts import object_boxes
from audit.counter_audit import evidence_stem, raw_frame_name
from database.models import AuditRun, CheckRow
from database.queries import FlagView
from rxaudit.errors import FootageError, NotFound, StoreError
from rxaudit.settings import Settings
from vision.clips import cut_clip


def inside(root: Path, rel: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise NotFound("evidence file")
    return path


def keyframe_path(settings: Settings, view: FlagView, index: int) -> Path:
    items = view.flag.evidence.get("items", [])
    if not 0 <= index < len(items) or not items[index].get("keyframe"):
        raise NotFound("keyframe")
    path = inside(Path(settings.evidence_dir), items[index]["keyframe"])
    if not path.is_file():
        raise NotFound("keyframe")
    return path


TAMPER_KEYFRAMES = ("before", "after")  # a camera_tamper flag's span: the last good picture, the first tampered


def tamper_keyframe_path(settings: Settings, view: FlagView, span: int, label: str) -> Path:
    """A picture the recorder saved for a tamper span the flag names (``seen.camera_tamper[span]``),
    found from what the flag's evidence says, inside the evidence directory."""
    items = view.flag.evidence.get("items", []) if view.flag.evidence else []
    spans = ((items[0].get("seen") or {}).get("camera_tamper") or []) if items else []
    if label not in TAMPER_KEYFRAMES or not 0 <= span < len(spans) or not isinstance(spans[span], dict):
        raise NotFound("keyframe")
    rel = (spans[span].get("keyframes") or {}).get(label)
    if not isinstance(rel, str) or not rel:
        raise NotFound("keyframe")
    path = inside(Path(settings.evidence_dir), rel)
    if not path.is_file():
        raise NotFound("keyframe")
    return path


CROP_MAX_PX = 256  # a crop is at most this wide and high, whatever the box
CROP_PAD = 0.15  # context around the box, as a share of its size


def crop_jpeg(settings: Settings, view: FlagView, index: int) -> bytes:
    """The counter detector's box ``index`` of the flag's keyframe, cut from the frame without
    drawings (else the drawn keyframe), padded a little and at most :data:`CROP_MAX_PX` a side."""
    wanted = next((o for o in object_boxes(view) if o.index == index), None)
    if wanted is None:
        raise NotFound("crop")
    items = view.flag.evidence.get("items", [])
    item = next(e for e in items if e.get("keyframe"))
    try:
        x1, y1, x2, y2 = (float(v) for v in item["boxes"][index]["box"])
    except (KeyError, TypeError, ValueError) as exc:  # a malformed stored box: nothing to cut
        raise NotFound("crop") from exc
    root = Path(settings.evidence_dir)
    for name in (raw_frame_name(view.settlement.settlement_id), item["keyframe"]):
        path = inside(root, name)
        if not path.is_file():
            continue
        try:
            with Image.open(path) as image:
                w, h = image.size
                pad_x, pad_y = (x2 - x1) * CROP_PAD + 2, (y2 - y1) * CROP_PAD + 2
                box = (max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y)),
                       min(w, int(x2 + pad_x) + 1), min(h, int(y2 + pad_y) + 1))
                if box[2] <= box[0] or box[3] <= box[1]:
                    raise NotFound("crop")
                piece = image.convert("RGB").crop(box)
        except (OSError, Image.DecompressionBombError):
            continue
        piece.thumbnail((CROP_MAX_PX, CROP_MAX_PX))
        out = io.BytesIO()
        piece.save(out, format="JPEG", quality=85)
        return out.getvalue()
    raise NotFound("crop")


_clip_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_clip_locks_guard = threading.Lock()


def _clip_lock(name: str) -> threading.Lock:
    with _clip_locks_guard:
        lock = _clip_locks.get(name)
        if lock is None:
            lock = _clip_locks[name] = threading.Lock()
        return lock


def _cached_clip(path: Path, meta: Path) -> tuple[Path, float] | None:
    try:
        offset = json.loads(meta.read_text())["swipe_offset_s"]
    except (OSError, ValueError, KeyError):
        return None
    return (path, offset) if path.is_file() else None


def clip_version(check: CheckRow, run: AuditRun | None, settings: Settings) -> str:
    """The cached clip's key: it changes whenever the settlement is audited again (the check's run
    and time), or the store or the clip window changes, so a re-audit never serves a stale clip."""
    basis = json.dumps([check.run_id, check.checked_at.isoformat(), (check.seen or {}).get("camera_time"),
                        run.videos if run else None, settings.clip_before_s, settings.clip_after_s])
    return hashlib.sha256(basis.encode()).hexdigest()[:12]


def clip_for(session: Session, settings: Settings, view: FlagView) -> tuple[Path, float]:
    """(path of the H.264 clip, seconds from the clip's start to the swipe). Cut once per audit of
    the settlement (concurrent first requests wait for one cut), then served from the cache."""
    s = view.settlement
    check = session.get(CheckRow, s.settlement_id)
    if check is None or "camera_time" not in (check.seen or {}):
        raise NotFound("clip")
    run = session.get(AuditRun, check.run_id)
    stem = evidence_stem(s.settlement_id)
    name = f"{stem}-{clip_version(check, run, settings)}"
    clips = Path(settings.evidence_dir) / "clips"
    path, meta = clips / f"{name}.mp4", clips / f"{name}.json"
    cached = _cached_clip(path, meta)
    if cached is not None:
        return cached
    with _clip_lock(name):
        cached = _cached_clip(path, meta)
        if cached is not None:
            return cached
        swipe = datetime.fromisoformat(check.seen["camera_time"])
        try:
            store = open_store(run.videos, settings)
            segments = store.list_segments(s.pharmacy_id, s.counter_id)
            first, _ = cut_clip(store, segments, swipe - timedelta(seconds=settings.clip_before_s),
                                swipe + timedelta(seconds=settings.clip_after_s), path)
        except (FootageError, StoreError) as exc:
            raise NotFound("clip") from exc
        offset = max(0.0, swipe.timestamp() - first)
        tmp = meta.with_name(f".{meta.name}.{uuid.uuid4().hex}")
        tmp.write_text(json.dumps({"swipe_offset_s": offset}))
        os.replace(tmp, meta)
        for old in [*clips.glob(f"{stem}-*.*"), clips / f"{stem}.mp4", clips / f"{stem}.json"]:
            if old.name not in (path.name, meta.name):  # clips of earlier audits of this settlement
                old.unlink(missing_ok=True)
    return path, offset
