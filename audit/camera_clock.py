"""The cameras' own clocks as the recorder read them (RTCP sender reports, ``rxaudit record``), per
counter and local day, for ``rxaudit clocks`` to show beside the on-screen clock: camera time minus
the recorder's (which names the segments), the median of the day's readings and their range. A
diagnostic like the rest of ``clocks``: it changes no offset the audit uses."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingest.cameras import CamerasConfig

Key = tuple[str, str, date]


def summaries(db_url: str, *, cameras: CamerasConfig | None, default_tz: str, day: date | None = None,
              pharmacy: str | None = None, counter: str | None = None) -> dict[Key, dict[str, Any]]:
    """``{(pharmacy, counter, local day): {camera_minus_recorder_s, min_s, max_s, readings, source}}``."""
    from database.cameras import clock_readings
    from database.engine import make_engine, migrate, session_factory, transaction

    start = end = None
    if day is not None:  # a day wide enough in any zone; each reading is then placed in its own
        start = datetime.combine(day, time(), ZoneInfo("UTC")) - timedelta(days=1)
        end = start + timedelta(days=3)
    engine = make_engine(db_url)
    migrate(engine)
    groups: dict[Key, list] = defaultdict(list)
    with transaction(session_factory(engine)) as session:
        for row in clock_readings(session, pharmacy_id=pharmacy, counter_id=counter, start=start, end=end):
            if cameras is not None:
                tz = cameras.business_hours(row.pharmacy_id)[2]
            else:
                tz = ZoneInfo(default_tz)
            key = (row.pharmacy_id, row.counter_id, row.at.astimezone(tz).date())
            if day is None or key[2] == day:
                groups[key].append(row)
    engine.dispose()
    out = {}
    for key, rows in sorted(groups.items()):
        values = [r.camera_minus_recorder_s for r in rows]
        out[key] = {"camera_minus_recorder_s": round(statistics.median(values), 2),
                    "min_s": round(min(values), 2), "max_s": round(max(values), 2), "readings": len(values),
                    "source": "rtcp"}
    return out


def describe(summary: dict[str, Any]) -> str:
    spread = (f", {summary['min_s']:+.1f}..{summary['max_s']:+.1f}"
              if summary["max_s"] - summary["min_s"] >= 0.1 else "")
    return (f"camera clock (RTCP sender reports) minus recorder: {summary['camera_minus_recorder_s']:+.1f} s "
            f"({summary['readings']} reading(s){spread})")
