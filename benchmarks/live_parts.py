"""``rxaudit bench-live``'s parts: percentiles, a process tree's CPU, the SSE client that times flag
events, the renaming of a bundle counter's settlements per replica, the log the batch audit reads."""

from __future__ import annotations

import csv
import http.client
import json
import os
import threading
import time
from bisect import bisect_left
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sample_footage.replay import marked_copy

def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def deciding_swipes(first_flagged: dict[str, datetime], done: list[tuple[datetime, str]]) -> dict[str, str]:
    """For each flagged settlement (its first flag's ``created_at``), the settlement whose check saved
    that flag: the inbox row with the first ``done_at`` at or after it. Checks save one at a time under
    the rules lock, flags and "done" in one transaction, so that row is the one. A flag the rules add to
    an earlier settlement when a later swipe completes the pattern is decided by the later swipe: the
    time to it counts from there, as no system could flag it before that swipe."""
    ordered = sorted(done)
    times = [t for t, _ in ordered]
    out = {}
    for sid, created in first_flagged.items():
        i = bisect_left(times, created)
        if i < len(ordered):
            out[sid] = ordered[i][1]
    return out


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants, those reaped included."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            stats[int(entry.name)] = text[text.rindex(")") + 2:].split()
    children: dict[int, list[int]] = {}
    for p, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(p)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            f = stats[p]
            total += sum(int(v) for v in f[11:15]) / tick  # utime stime cutime cstime
        todo.extend(children.get(p, []))
    return total


class SseClient(threading.Thread):
    """Reads ``/api/v1/events`` with a read key; keeps the first flag event's time per settlement."""

    def __init__(self, port: int, key: str) -> None:
        super().__init__(name="sse", daemon=True)
        self.port, self.key = port, key
        self.first: dict[str, datetime] = {}
        self.events = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {self.key}"})
                answer, event = conn.getresponse(), None
                while not self.stop.is_set():
                    line = answer.fp.readline().decode("utf-8")
                    if not line:
                        break
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event == "flag":
                        flag = json.loads(line[5:])
                        self.events += 1
                        self.first.setdefault(flag["settlement_id"], datetime.now(UTC))
                    elif line.strip() == "":
                        event = None
            except OSError:
                time.sleep(0.5)


def _rename(record: dict[str, Any], pharmacy_id: str, rep: int) -> dict[str, Any]:
    """Replica ``rep`` of a bundle counter's settlement, at ``pharmacy_id``: card ids and codes marked in
    their first two characters from replica 1 on (:func:`~sample_footage.replay.marked_copy`)."""
    mark = (lambda v: f"{rep % 100:02d}{v[2:]}" if len(v) > 4 else v) if rep else None  # noqa: E731
    return marked_copy(record, suffix=f"R{rep}", mark=mark, pharmacy_id=pharmacy_id)


def write_log(folder: Path, records: list[dict[str, Any]], pharmacies: list[dict[str, str]]) -> Path:
    """The pushed settlements as a log (+ items and pharmacies beside it) for the batch audit."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "settlements.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["settlement_id", "pharmacy_id", "counter_id", "settled_at", "card_id", "amount", "operator"])
        for r in records:
            w.writerow([r["settlement_id"], r["pharmacy_id"], r["counter_id"], r["settled_at"], r["card_id"],
                        r["amount"], r.get("operator", "")])
    with (folder / "settlement_items.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["settlement_id", "item_code", "item_name", "quantity", "unit_price", "trace_codes"])
        for r in records:
            for i in r.get("items", []):
                w.writerow([r["settlement_id"], i["item_code"], i["item_name"], i["quantity"], i["unit_price"],
                            ";".join(i.get("trace_codes", []))])
    with (folder / "pharmacies.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["pharmacy_id", "name", "district"])
        w.writeheader()
        w.writerows(pharmacies)
    return folder / "settlements.csv"
