"""The live audit on the wall (issue 28): the backlog (``GET /api/v1/live/status``), a pharmacy's live
view as data (``GET /api/v1/live/pharmacies/{pharmacy_id}``) and as a page (``/live/{pharmacy_id}``,
``?counter=C1`` marks one counter): the latest picture of each counter (the recorder's snapshots), the
live settlements as they arrive with their flags, the camera tiles. District-scoped like every read: a
pharmacy of another district is answered as one that does not exist. Stored text is shown as text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import CurrentUser, SessionDep, Viewer
from api.live_schemas import LiveStatusOut, PharmacyLiveOut
from api.routes_cameras_page import STATE_LABELS
from api.schemas import ID_MAX, NO_CONTROL, PlainId
from database import live_status, live_view
from rxaudit.domain import FlagKind, ReviewStatus
from rxaudit.errors import NotFound
from rxaudit.security import Principal
from sqlalchemy.orm import Session

api = APIRouter(prefix="/api/v1/live", tags=["wall"])
pages = APIRouter(include_in_schema=False)
PharmacyPath = Annotated[str, Path(min_length=1, max_length=ID_MAX, pattern=NO_CONTROL)]
SETTLEMENTS_SHOWN = 50  # live settlements the page lists (the API gives up to live_view.SETTLEMENTS_MAX)


def _pharmacy(session: Session, who: Principal, pharmacy_id: str) -> live_view.PharmacyRef:
    found = live_view.pharmacy(session, principal=who, pharmacy_id=pharmacy_id)
    if found is None:
        raise NotFound(f"pharmacy {pharmacy_id}")
    return found


@api.get("/status", response_model=LiveStatusOut,
         summary="The live inbox's backlog: rows not done, the oldest due, each counter's delay, the p50 delay")
def status(request: Request, session: SessionDep, who: Viewer) -> LiveStatusOut:
    return LiveStatusOut.of(live_status.live_status(session, principal=who), request.app.state.tz)


@api.get("/pharmacies/{pharmacy_id}", response_model=PharmacyLiveOut,
         summary="A pharmacy's live view: its counters, camera tiles and newest live settlements with flags")
def pharmacy_live(pharmacy_id: PharmacyPath, request: Request, session: SessionDep, who: Viewer,
                  counter: Annotated[PlainId | None, Query()] = None,
                  limit: Annotated[int, Query(ge=1, le=live_view.SETTLEMENTS_MAX)] = SETTLEMENTS_SHOWN
                  ) -> PharmacyLiveOut:
    found = _pharmacy(session, who, pharmacy_id)
    return PharmacyLiveOut.of(found, live_view.counters(session, pharmacy_id=pharmacy_id),
                              live_view.cameras(session, pharmacy_id=pharmacy_id),
                              live_view.settlements(session, pharmacy_id=pharmacy_id, counter_id=counter, limit=limit),
                              request.app.state.tz)


@pages.get("/live/{pharmacy_id}")
def live_page(pharmacy_id: PharmacyPath, request: Request, session: SessionDep, who: CurrentUser,
              counter: Annotated[PlainId | None, Query()] = None) -> HTMLResponse:
    found = _pharmacy(session, who, pharmacy_id)
    return request.app.state.templates.TemplateResponse(request, "live.html", {
        "who": who, "pharmacy": found, "counters": live_view.counters(session, pharmacy_id=pharmacy_id),
        "selected": counter, "states": STATE_LABELS, "kinds": [str(k) for k in FlagKind],
        "statuses": [str(s) for s in ReviewStatus]})
