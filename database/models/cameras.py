"""What ``rxaudit record`` writes about each counter's camera: health, gaps, tamper spans and the
camera's own clock (the stream URL only redacted, never credentials)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from database.models.base import Base, utcnow
from rxaudit.limits import ID_LEN, TEXT_LEN


class CameraHealthRow(Base):
    """One per recorded counter: what `rxaudit record` last saw. The stream URL only redacted."""

    __tablename__ = "camera_health"

    pharmacy_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    counter_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # recorder.health.CameraState
    state_since: Mapped[datetime]
    last_frame_at: Mapped[datetime | None]
    fps: Mapped[float | None]
    bitrate_kbps: Mapped[float | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    stream: Mapped[str] = mapped_column(String(TEXT_LEN))
    detail: Mapped[str | None] = mapped_column(String(TEXT_LEN))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CameraGapRow(Base):
    """A stretch without recording at one counter; ``end`` None while it lasts."""

    __tablename__ = "camera_gaps"
    __table_args__ = (Index("ix_camera_gaps_counter_start", "pharmacy_id", "counter_id", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(ID_LEN))
    counter_id: Mapped[str] = mapped_column(String(ID_LEN))
    start: Mapped[datetime]
    end: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(TEXT_LEN))


class CameraTamperRow(Base):
    """A span while the stream was up but the picture was black, uniform, frozen or turned away;
    ``end`` None while it lasts; ``last_good_at`` the last look at the normal picture before it."""

    __tablename__ = "camera_tamper"
    __table_args__ = (Index("ix_camera_tamper_counter_start", "pharmacy_id", "counter_id", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(ID_LEN))
    counter_id: Mapped[str] = mapped_column(String(ID_LEN))
    what: Mapped[str] = mapped_column(String(16))  # recorder.tamper.Tamper
    start: Mapped[datetime]
    end: Mapped[datetime | None]
    last_good_at: Mapped[datetime | None]
    # evidence-relative JPEGs: the last good picture, the first tampered one, the first good one again
    keyframe_before: Mapped[str | None] = mapped_column(String(TEXT_LEN))
    keyframe_after: Mapped[str | None] = mapped_column(String(TEXT_LEN))
    keyframe_back: Mapped[str | None] = mapped_column(String(TEXT_LEN))


class CameraClockRow(Base):
    """A reading of a camera's own clock against the recorder's: ``camera_minus_recorder_s`` at the
    first frame of a segment, from the RTCP sender reports (``source`` "rtcp"). One per connection and
    then when it moves, or every ``clock_every_s``; never a row per segment."""

    __tablename__ = "camera_clock"
    __table_args__ = (Index("ix_camera_clock_counter_at", "pharmacy_id", "counter_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pharmacy_id: Mapped[str] = mapped_column(String(ID_LEN))
    counter_id: Mapped[str] = mapped_column(String(ID_LEN))
    at: Mapped[datetime]  # the recorder's clock at the segment's first frame
    camera_minus_recorder_s: Mapped[float]
    source: Mapped[str] = mapped_column(String(16))
