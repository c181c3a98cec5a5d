"""``GET /api/v1/cameras``: the recorders' view of each counter camera, district-scoped."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.camera_schemas import CameraOut
from api.deps import SessionDep, Viewer
from database import cameras as camera_db

router = APIRouter(prefix="/api/v1", tags=["wall"])


@router.get("/cameras", response_model=list[CameraOut],
            summary="Recorded cameras: state, last frame, fps, bitrate and latest gaps")
def list_cameras(request: Request, session: SessionDep, who: Viewer) -> list[CameraOut]:
    tz = request.app.state.tz
    return [CameraOut.of(view, tz) for view in camera_db.cameras(session, principal=who)]
