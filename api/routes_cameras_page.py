"""``/cameras``: the review UI's page of recorded counters (``rxaudit record``): each counter's state,
last frame, fps, bitrate and its latest gaps and tamper spans. Signed-in users; an inspector sees the
counters of their own districts only. Stored text (stream, reasons) is shown as text, never as HTML."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import CurrentUser, SessionDep
from api.i18n import N_
from database import cameras as camera_db

router = APIRouter(include_in_schema=False)
RECENT = 5  # gaps and tamper spans shown per counter
STATE_LABELS = {  # recorder.health.CameraState
    "recording": N_("recording"), "stalled": N_("stalled"), "offline": N_("offline"),
    "store_failing": N_("store failing"), "tampered": N_("tampered"), "starting": N_("starting"),
}
TAMPER_LABELS = {  # recorder.tamper.Tamper
    "black": N_("black picture"), "uniform": N_("uniform picture (lens covered?)"),
    "frozen": N_("frozen picture"), "turned": N_("turned away from the counter"),
}


@router.get("/cameras")
def cameras_page(request: Request, session: SessionDep, who: CurrentUser) -> HTMLResponse:
    views = camera_db.cameras(session, principal=who, max_gaps=RECENT, max_tamper=RECENT)
    return request.app.state.templates.TemplateResponse(request, "cameras.html", {
        "who": who, "views": views, "states": STATE_LABELS, "tamper_labels": TAMPER_LABELS})
