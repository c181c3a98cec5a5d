"""``GET /api/v1/cameras``: the recorders' view of each counter camera, district-scoped; and each
counter's latest picture (the recorder's snapshot, refreshed every ``snapshot_s``) for the wall."""

from __future__ import annotations

from email.utils import format_datetime

from fastapi import APIRouter, Request, Response

from api.camera_schemas import CameraOut
from api.deps import SessionDep, Viewer
from database import cameras as camera_db
from database.models import Pharmacy
from recorder.snapshots import latest_snapshot
from rxaudit.errors import NotFound, StoreError

router = APIRouter(prefix="/api/v1", tags=["wall"])
SNAPSHOT_MAX_BYTES = 4 << 20  # a snapshot is a small JPEG; anything larger is not served


@router.get("/cameras", response_model=list[CameraOut],
            summary="Recorded cameras: state, last frame, fps, bitrate and latest gaps")
def list_cameras(request: Request, session: SessionDep, who: Viewer) -> list[CameraOut]:
    tz = request.app.state.tz
    return [CameraOut.of(view, tz) for view in camera_db.cameras(session, principal=who)]


@router.get("/cameras/{pharmacy_id}/{counter_id}/snapshot.jpg", response_class=Response,
            summary="A counter's latest picture from the recorder (JPEG; its time in X-Snapshot-Time)",
            responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "none, or not yours to see"}})
def camera_snapshot(request: Request, session: SessionDep, who: Viewer, pharmacy_id: str, counter_id: str) -> Response:
    pharmacy = session.get(Pharmacy, pharmacy_id)
    if not who.sees(pharmacy.district if pharmacy is not None else None):
        raise NotFound("snapshot")  # the same answer as for a counter without one: nothing is revealed
    try:
        found = latest_snapshot(request.app.state.settings.snapshots, pharmacy_id, counter_id)
    except StoreError as exc:
        raise NotFound("snapshot") from exc
    if found is None:
        raise NotFound("snapshot")
    try:
        with open(found.path, "rb") as handle:  # the whole picture: the recorder replaces it, never rewrites it
            data = handle.read(SNAPSHOT_MAX_BYTES + 1)
    except FileNotFoundError as exc:
        raise NotFound("snapshot") from exc
    if len(data) > SNAPSHOT_MAX_BYTES:
        raise NotFound("snapshot")
    tz = request.app.state.tz
    return Response(data, media_type="image/jpeg", headers={
        "Cache-Control": "no-store", "Last-Modified": format_datetime(found.at, usegmt=True),
        "X-Snapshot-Time": found.at.astimezone(tz).isoformat(timespec="milliseconds")})
