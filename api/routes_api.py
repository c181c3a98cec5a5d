"""The monitoring-wall API (``/api/v1``): read-only, district-scoped, for users and API keys."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from api.deps import SessionDep, Viewer
from api.schemas import FlagOut, FlagPage, FlagQuery, FootfallRow, SettlementOut, StatsOut
from rxaudit.db import queries
from rxaudit.db.models import FlagRow
from rxaudit.db.queries import FlagFilters

router = APIRouter(prefix="/api/v1", tags=["wall"])
QueryDep = Annotated[FlagQuery, Query()]


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, who: Viewer) -> dict:
    """The OpenAPI document of this API, for signed-in users and API keys."""
    return request.app.openapi()


@router.get("/flags", response_model=FlagPage, summary="Flags, filtered and paginated")
def list_flags(request: Request, session: SessionDep, who: Viewer, q: QueryDep) -> FlagPage:
    page = queries.list_flags(session, who, q.filters(), request.app.state.tz)
    return FlagPage(items=[FlagOut.of(v) for v in page.items], total=page.total, page=page.page,
                    page_size=page.page_size)


@router.get("/flags/{flag_id}", response_model=FlagOut, summary="One flag")
def get_flag(flag_id: int, session: SessionDep, who: Viewer) -> FlagOut:
    return FlagOut.of(queries.get_flag(session, who, flag_id))


@router.get("/settlements/{settlement_id}", response_model=SettlementOut, summary="One settlement")
def get_settlement(settlement_id: str, session: SessionDep, who: Viewer) -> SettlementOut:
    s, check, district, flags = queries.get_settlement(session, who, settlement_id)
    return SettlementOut(
        settlement_id=s.settlement_id, pharmacy_id=s.pharmacy_id, counter_id=s.counter_id,
        district=district, settled_at=s.settled_at, amount=str(s.amount), card_hash=s.card_hash,
        items=list(s.items.get("lines", [])), status=check.status if check else None,
        seen=check.seen if check else {},
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


@router.get("/events", summary="Server-Sent Events: new flags as they are written",
            response_class=StreamingResponse)
def events(request: Request, session: SessionDep, who: Viewer,
           after_id: Annotated[int | None, Query(ge=0)] = None,
           max_s: Annotated[float, Query(gt=0, le=3600)] = 3600) -> StreamingResponse:
    """Streams ``event: flag`` messages (JSON of a flag) for flags the caller may see. Starts after
    ``after_id`` (or ``Last-Event-ID``), else after the newest flag; ends after ``max_s`` seconds."""
    last = after_id
    header = request.headers.get("last-event-id")
    if last is None and header and header.isdigit():
        last = int(header)
    if last is None:
        last = session.scalar(select(func.max(FlagRow.id))) or 0
    factory, tz = request.app.state.sessions, request.app.state.tz
    poll = request.app.state.settings.sse_poll_s

    def stream() -> Iterator[str]:
        cursor = last
        deadline = time.monotonic() + max_s
        yield "retry: 3000\n\n"
        while time.monotonic() < deadline:
            with factory() as db:
                page = queries.list_flags(db, who, FlagFilters(after_id=cursor, page_size=200), tz)
            for view in sorted(page.items, key=lambda v: v.flag.id):
                cursor = max(cursor, view.flag.id)
                data = json.dumps(FlagOut.of(view).model_dump(mode="json"), ensure_ascii=False)
                yield f"id: {view.flag.id}\nevent: flag\ndata: {data}\n\n"
            yield ": keep-alive\n\n"
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
