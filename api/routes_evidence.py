"""Evidence downloads: keyframes, clips (HTTP Range via FileResponse) and case exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from api.deps import SessionDep, Viewer
from api.evidence import clip_for, export_zip, keyframe_path
from api.schemas import FlagQuery
from rxaudit.db import queries

router = APIRouter(tags=["evidence"])
MAX_EXPORT = 200


@router.get("/flags/{flag_id}/keyframes/{index}.jpg", summary="A keyframe with boxes drawn")
def keyframe(flag_id: int, index: int, request: Request, session: SessionDep, who: Viewer) -> FileResponse:
    view = queries.get_flag(session, who, flag_id)
    return FileResponse(keyframe_path(request.app.state.settings, view, index), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})


@router.get("/flags/{flag_id}/clip.mp4", summary="The clip around the swipe (H.264, seekable)")
def clip(flag_id: int, request: Request, session: SessionDep, who: Viewer) -> FileResponse:
    view = queries.get_flag(session, who, flag_id)
    path, offset = clip_for(session, request.app.state.settings, view)
    return FileResponse(path, media_type="video/mp4",
                        headers={"X-Swipe-Offset": f"{offset:.2f}", "Cache-Control": "private"})


def _zip(data: bytes, name: str) -> Response:
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/flags/{flag_id}/export.zip", summary="Case export of one flag")
def export_one(flag_id: int, request: Request, session: SessionDep, who: Viewer) -> Response:
    queries.get_flag(session, who, flag_id)
    return _zip(export_zip(session, request.app.state.settings, who, [flag_id]), f"rxaudit-flag-{flag_id}.zip")


@router.get("/export.zip", summary="Case export of a filtered selection (at most 200 flags)")
def export_selection(request: Request, session: SessionDep, who: Viewer,
                     q: Annotated[FlagQuery, Query()]) -> Response:
    ids = queries.all_flag_ids(session, who, q.filters(), request.app.state.tz, MAX_EXPORT)
    return _zip(export_zip(session, request.app.state.settings, who, ids), "rxaudit-selection.zip")
