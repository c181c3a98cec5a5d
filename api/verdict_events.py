"""``event: verdict`` messages of the live feed: a flag's review status changed.

Verdict ids, like flag ids, are handed out at insert and may commit out of order; the cursor keeps
the ids it has sent above a floor and moves the floor past a gap once the gap has stayed open
``grace_s`` (the missing verdict was rolled back), so a late commit is still sent, and none twice."""

from __future__ import annotations

import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from api.schemas import local
from database.verdict_feed import VerdictChange


@dataclass(frozen=True)
class VerdictEvent:
    flag_id: int
    district: str | None
    data: str

    @classmethod
    def of(cls, change: VerdictChange, tz: ZoneInfo | None) -> VerdictEvent:
        data = {"flag_id": change.flag_id, "review_status": change.review_status, "action": change.action,
                "kind": change.kind, "pharmacy_id": change.pharmacy_id, "district": change.district,
                "at": local(change.at, tz).isoformat()}
        return cls(change.flag_id, change.district, json.dumps(data, ensure_ascii=False))

    def frame(self) -> str:  # no id: line, so Last-Event-ID stays the last flag's id
        return f"event: verdict\ndata: {self.data}\n\n"


class VerdictCursor:
    def __init__(self, floor: int, *, grace_s: float) -> None:
        self.floor, self.grace_s = floor, grace_s
        self._sent: dict[int, float] = {}  # ids above the floor already sent -> when first seen

    def take(self, changes: list[VerdictChange], now: float) -> list[VerdictChange]:
        """The changes not sent yet (``changes``: ids above the floor, ascending); moves the floor."""
        fresh = [c for c in changes if c.verdict_id > self.floor and c.verdict_id not in self._sent]
        for c in fresh:
            self._sent[c.verdict_id] = now
        while self._sent:
            if self.floor + 1 in self._sent:
                self.floor += 1
                del self._sent[self.floor]
            elif now - min(self._sent.values()) >= self.grace_s:  # the gap's verdict never came
                self.floor = min(self._sent) - 1
            else:
                break
        return fresh
