"""Evidence downloads: keyframes, clips (HTTP Range via FileResponse) and case exports. Keyframes and
clips take an API key, a session, or a stream token (``?token=``, for ``<img>`` / ``<video>`` on
another origin); case exports take a key or a session only."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from api import review_flow
from api.case_file import build_case_zip
from api.deps import SessionDep, Viewer
from api.evidence import clip_for, crop_jpeg, keyframe_path, tamper_keyframe_path
from api.schemas import FlagId, FlagQuery, KeyframeIndex
from api.token_deps import Reader
from database import queries
from rxaudit.errors import ExportsBusy

router = APIRouter(tags=["evidence"])
MAX_EXPORT = 200


@router.get("/flags/{flag_id}/keyframes/{index}.jpg", summary="A keyframe with boxes drawn")
def keyframe(flag_id: FlagId, index: KeyframeIndex, request: Request, session: SessionDep,
             who: Reader) -> FileResponse:
    view = queries.get_flag(session, who, flag_id)
    review_flow.viewed(session, request, who, flag_id, "keyframe", index)  # audit log, before it leaves
    return FileResponse(keyframe_path(request.app.state.settings, view, index), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})


@router.get("/flags/{flag_id}/tamper/{span}/{label}.jpg",
            summary="A camera_tamper flag's picture: the last normal one before the span, or the first tampered")
def tamper_keyframe(flag_id: FlagId, span: KeyframeIndex, label: str, request: Request, session: SessionDep,
                    who: Reader) -> FileResponse:
    view = queries.get_flag(session, who, flag_id)
    path = tamper_keyframe_path(request.app.state.settings, view, span, label)
    review_flow.viewed(session, request, who, flag_id, "keyframe", span)  # audit log, before it leaves
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/flags/{flag_id}/crops/{index}.jpg", summary="One object the counter detector boxed, cut out")
def crop(flag_id: FlagId, index: KeyframeIndex, request: Request, session: SessionDep, who: Reader) -> Response:
    """``index``: the box's place among the keyframe's boxes (only the counter detector's boxes,
    at most ``api.flag_facts.MAX_CROPS`` of them, are cut). Scoped like the flag: another district's
    flag is 404."""
    view = queries.get_flag(session, who, flag_id)
    review_flow.viewed(session, request, who, flag_id, "crop", index)  # audit log, before it leaves
    return Response(crop_jpeg(request.app.state.settings, view, index), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/flags/{flag_id}/clip.mp4", summary="The clip around the swipe (H.264, seekable)")
def clip(flag_id: FlagId, request: Request, session: SessionDep, who: Reader) -> FileResponse:
    view = queries.get_flag(session, who, flag_id)
    review_flow.viewed(session, request, who, flag_id, "clip")  # audit log, before it leaves
    path, offset = clip_for(session, request.app.state.settings, view)
    return FileResponse(path, media_type="video/mp4",
                        headers={"X-Swipe-Offset": f"{offset:.2f}", "Cache-Control": "private"})


@contextmanager
def _export_slot(slots: threading.BoundedSemaphore) -> Iterator[None]:
    """One of the process's export slots (``api.app.EXPORTS_AT_ONCE``) while a case file is built;
    none free: :class:`ExportsBusy` (503 + Retry-After) at once, rather than every export slowing
    down past its deadline."""
    if not slots.acquire(blocking=False):
        raise ExportsBusy("other case files are being built; try again shortly")
    try:
        yield
    finally:
        slots.release()


def _zip(session: SessionDep, request: Request, who, ids: list[int], name: str) -> FileResponse:
    """The case file, built in a temporary file (removed once sent)."""
    with _export_slot(request.app.state.export_slots):
        fd, path = tempfile.mkstemp(prefix="rxaudit-case-", suffix=".zip")
        try:
            with os.fdopen(fd, "wb") as out:
                manifest = build_case_zip(session, request.app.state.settings, who, ids, request.app.state.tz, out)
            session.commit()  # the audit-log record is written before the case file leaves
        except BaseException:
            os.unlink(path)
            raise
    return FileResponse(path, media_type="application/zip", filename=name,
                        headers={"X-Manifest-SHA256": manifest}, background=BackgroundTask(os.unlink, path))


@router.get("/flags/{flag_id}/export.zip", summary="Case file of one flag (Chinese summary, SHA256SUMS)")
def export_one(flag_id: FlagId, request: Request, session: SessionDep, who: Viewer) -> FileResponse:
    queries.get_flag(session, who, flag_id)
    return _zip(session, request, who, [flag_id], f"rxaudit-flag-{flag_id}.zip")


@router.get("/export.zip", summary="Case file of a filtered selection (at most 200 flags)")
def export_selection(request: Request, session: SessionDep, who: Viewer,
                     q: Annotated[FlagQuery, Query()]) -> FileResponse:
    ids = queries.all_flag_ids(session, who, q.filters(), request.app.state.tz, MAX_EXPORT)
    return _zip(session, request, who, ids, "rxaudit-selection.zip")
