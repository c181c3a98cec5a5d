"""Evidence files, served only through the app after the scoping check: keyframes, the clip around
the swipe (cut once, then cached), and case exports. No request path reaches the file system: files
are found from what the database says, and resolved inside the evidence directory or the store."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ingest.stores import open_store
from rxaudit.counter_audit import evidence_stem
from rxaudit.db import queries
from rxaudit.db.models import AuditRun, CheckRow
from rxaudit.db.queries import FlagView
from rxaudit.errors import FootageError, NotFound, StoreError
from rxaudit.security import Principal
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


def clip_for(session: Session, settings: Settings, view: FlagView) -> tuple[Path, float]:
    """(path of the H.264 clip, seconds from the clip's start to the swipe)."""
    s = view.settlement
    name = evidence_stem(s.settlement_id)
    clips = Path(settings.evidence_dir) / "clips"
    path, meta = clips / f"{name}.mp4", clips / f"{name}.json"
    if path.is_file() and meta.is_file():
        return path, json.loads(meta.read_text())["swipe_offset_s"]
    check = session.get(CheckRow, s.settlement_id)
    if check is None or "camera_time" not in (check.seen or {}):
        raise NotFound("clip")
    run = session.get(AuditRun, check.run_id)
    swipe = datetime.fromisoformat(check.seen["camera_time"])
    try:
        store = open_store(run.videos, settings)
        segments = store.list_segments(s.pharmacy_id, s.counter_id)
        first, _ = cut_clip(store, segments, swipe - timedelta(seconds=settings.clip_before_s),
                            swipe + timedelta(seconds=settings.clip_after_s), path)
    except (FootageError, StoreError) as exc:
        raise NotFound("clip") from exc
    offset = max(0.0, swipe.timestamp() - first)
    meta.write_text(json.dumps({"swipe_offset_s": offset}))
    return path, offset


def _flag_json(view: FlagView, history: list[dict[str, Any]]) -> dict[str, Any]:
    f, s = view.flag, view.settlement
    return {
        "flag": {"id": f.id, "kind": f.kind, "score": f.score, "reason": f.reason,
                 "review_status": f.review_status, "evidence": f.evidence,
                 "created_at": f.created_at.isoformat()},
        "settlement": {"settlement_id": s.settlement_id, "pharmacy_id": s.pharmacy_id,
                       "pharmacy_name": view.pharmacy_name, "district": view.district,
                       "counter_id": s.counter_id, "settled_at": s.settled_at.isoformat(),
                       "amount": str(s.amount), "card_hash": s.card_hash, "items": s.items,
                       "extra": s.extra},
        "verdicts": history,
    }


def export_zip(session: Session, settings: Settings, principal: Principal, flag_ids: list[int]) -> bytes:
    """One folder per flag: case.json (records + verdict history), keyframes, the clip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        index = []
        for flag_id in flag_ids:
            view = queries.get_flag(session, principal, flag_id)
            folder = f"flag-{view.flag.id}-{view.flag.kind}"
            zf.writestr(f"{folder}/case.json", json.dumps(
                _flag_json(view, queries.verdict_history(session, view.flag.id)), indent=2,
                ensure_ascii=False))
            for i, _ in enumerate(view.flag.evidence.get("items", [])):
                try:
                    zf.write(keyframe_path(settings, view, i), f"{folder}/keyframe-{i}.jpg")
                except NotFound:
                    pass
            try:
                clip, offset = clip_for(session, settings, view)
                zf.write(clip, f"{folder}/clip.mp4")
            except NotFound:
                offset = None
            index.append({"flag_id": view.flag.id, "folder": folder, "swipe_offset_s": offset})
        zf.writestr("index.json", json.dumps({"exported_by": principal.name, "flags": index}, indent=2))
    return buffer.getvalue()
