"""Retention: segments older than ``retention_days`` are deleted from the recorder's own counters,
except those that the evidence of a flag still open, escalated or confirmed points to (kept in
place, so the flag's clip plays on). The segment index the audit caches forgets what is deleted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from database import cameras as camera_db
from database.engine import transaction
from ingest.video_store import parse_segment_name
from recorder.sources import Camera

DEFAULT_RETENTION_DAYS = 90  # the 2023 campaign asks stores to keep at least three months


@dataclass
class Swept:
    deleted: list[str] = field(default_factory=list)  # store-relative paths
    kept_for_evidence: list[str] = field(default_factory=list)


def expired(root: Path, camera: Camera, cutoff: datetime) -> list[str]:
    """Store-relative paths of this camera's segments that start before ``cutoff``."""
    folder = root / camera.pharmacy_id / camera.counter_id
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        start = parse_segment_name(path.name)
        if start is not None and start < cutoff and path.is_file():
            out.append(f"{camera.pharmacy_id}/{camera.counter_id}/{path.name}")
    return out


def expired_objects(target, camera: Camera, cutoff: datetime) -> list[str]:
    """The same in an object store (``recorder.upload.ObjectTarget``)."""
    out = []
    for name in target.names(camera.pharmacy_id, camera.counter_id):
        start = parse_segment_name(name)
        if start is not None and start < cutoff:
            out.append(f"{camera.pharmacy_id}/{camera.counter_id}/{name}")
    return out


def sweep(root: Path, cameras: list[Camera], retention_days: int, factory: sessionmaker[Session] | None,
          now: datetime | None = None, target=None) -> Swept:
    """Delete what has expired (from ``target``, an object store, when given). Without a database
    nothing is deleted: the flags cannot be asked."""
    swept = Swept()
    if retention_days <= 0 or factory is None:
        return swept
    now = now or datetime.now().astimezone()
    cutoff = now - timedelta(days=retention_days)
    candidates = {c.key: expired(root, c, cutoff) if target is None else expired_objects(target, c, cutoff)
                  for c in cameras}
    if not any(candidates.values()):
        return swept
    with transaction(factory) as session:
        held = camera_db.clips_held(session, pharmacy_ids=sorted({c.pharmacy_id for c in cameras}),
                                    before=cutoff)
        for camera in cameras:
            names = []
            for rel in candidates[camera.key]:
                if rel in held:
                    swept.kept_for_evidence.append(rel)
                    continue
                if target is None:
                    (root / rel).unlink(missing_ok=True)
                else:
                    target.delete(rel)
                swept.deleted.append(rel)
                names.append(rel.rsplit("/", 1)[1])
            camera_db.forget_segments(session, pharmacy_id=camera.pharmacy_id, counter_id=camera.counter_id,
                                      names=names)
    return swept
