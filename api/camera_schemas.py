"""Response schemas of ``GET /api/v1/cameras``: each recorded counter's health and latest gaps.
Stream URLs appear only redacted (``rtsp://user:***@host/...``), as the recorder stored them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import local
from database.cameras import CameraView

State = Literal["starting", "recording", "stalled", "offline", "store_failing", "tampered"]


class GapOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime | None = Field(description="None while the gap lasts")
    reason: str


class CameraOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pharmacy_id: str
    counter_id: str
    district: str | None
    state: State
    since: datetime
    last_frame_at: datetime | None
    fps: float | None
    bitrate_kbps: float | None
    width: int | None
    height: int | None
    stream: str = Field(description="the stream URL, its password replaced by ***")
    detail: str | None = Field(description="why the camera is not recording, when it is not")
    updated_at: datetime = Field(description="when the recorder last reported")
    gaps: list[GapOut] = Field(description="the latest gaps in recording, newest first")

    @classmethod
    def of(cls, view: CameraView, tz: ZoneInfo | None) -> CameraOut:
        h = view.health
        opt = lambda t: None if t is None else local(t, tz)  # noqa: E731
        return cls(pharmacy_id=h.pharmacy_id, counter_id=h.counter_id, district=view.district,
                   state=h.state, since=local(h.state_since, tz), last_frame_at=opt(h.last_frame_at),
                   fps=None if h.fps is None else round(h.fps, 2),
                   bitrate_kbps=None if h.bitrate_kbps is None else round(h.bitrate_kbps, 1),
                   width=h.width, height=h.height, stream=h.stream, detail=h.detail,
                   updated_at=local(h.updated_at, tz),
                   gaps=[GapOut(start=local(g.start, tz), end=opt(g.end), reason=g.reason) for g in view.gaps])
