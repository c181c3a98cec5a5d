"""The monitoring-wall API (``/api/v1``): read-only, district-scoped, for users and API keys.
The live feed, ``/api/v1/events``, is in ``api.routes_events``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import SessionDep, Viewer
from api.schemas import (BoardQuery, FlagId, FlagOut, FlagPage, FlagQuery, FootfallRow, PharmacyBoardOut,
                         SettlementId, SettlementOut, StatsOut, local)
from api.timefmt import localize
from database import aggregates, queries

router = APIRouter(prefix="/api/v1", tags=["wall"])
QueryDep = Annotated[FlagQuery, Query()]


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, who: Viewer) -> dict:
    """The OpenAPI document of this API, for signed-in users and API keys."""
    return request.app.openapi()


@router.get("/flags", response_model=FlagPage, summary="Flags, filtered and paginated")
def list_flags(request: Request, session: SessionDep, who: Viewer, q: QueryDep) -> FlagPage:
    page = queries.list_flags(session, who, q.filters(), request.app.state.tz)
    tz = request.app.state.tz
    return FlagPage(items=[FlagOut.of(v, tz) for v in page.items], total=page.total, page=page.page,
                    page_size=page.page_size)


@router.get("/flags/{flag_id}", response_model=FlagOut, summary="One flag")
def get_flag(flag_id: FlagId, request: Request, session: SessionDep, who: Viewer) -> FlagOut:
    return FlagOut.of(queries.get_flag(session, who, flag_id), request.app.state.tz)


@router.get("/settlements/{settlement_id}", response_model=SettlementOut, summary="One settlement")
def get_settlement(settlement_id: SettlementId, request: Request, session: SessionDep,
                   who: Viewer) -> SettlementOut:
    s, check, district, flags = queries.get_settlement(session, who, settlement_id)
    return SettlementOut(
        settlement_id=s.settlement_id, pharmacy_id=s.pharmacy_id, counter_id=s.counter_id,
        district=district, settled_at=local(s.settled_at, request.app.state.tz), amount=str(s.amount),
        card_hash=s.card_hash,
        items=list(s.items.get("lines", [])), status=check.status if check else None,
        seen=localize(check.seen, request.app.state.tz) if check else {},
        flags=[{"id": f.id, "kind": f.kind, "score": f.score, "review_status": f.review_status}
               for f in flags])


@router.get("/stats", response_model=StatsOut, summary="Counts by district, pharmacy, kind, day")
def get_stats(request: Request, session: SessionDep, who: Viewer, q: QueryDep) -> StatsOut:
    return StatsOut(**queries.stats(session, who, q.filters(), request.app.state.tz))


@router.get("/footfall", response_model=list[FootfallRow],
            summary="Distinct visitors seen vs settlements, per pharmacy and day")
def get_footfall(request: Request, session: SessionDep, who: Viewer, q: QueryDep) -> list[FootfallRow]:
    settings = request.app.state.settings
    rows = queries.footfall(session, who, q.filters(), request.app.state.tz,
                            alert_ratio=settings.footfall_alert_ratio,
                            alert_min_swipes=settings.footfall_alert_min_swipes)
    return [FootfallRow(**r) for r in rows]



@router.get("/pharmacies", response_model=PharmacyBoardOut,
            summary="Pharmacies on the wall: places, open flags, ranked by open flags and swipes per visitor")
def get_pharmacies(request: Request, session: SessionDep, who: Viewer,
                   q: Annotated[BoardQuery, Query()]) -> PharmacyBoardOut:
    tz = request.app.state.tz
    board = aggregates.pharmacy_board(session, who, tz, day_to=q.date_to or datetime.now(tz).date(), days=q.days,
                                      top=q.top, min_swipes=request.app.state.settings.footfall_alert_min_swipes)
    return PharmacyBoardOut.of(board)
