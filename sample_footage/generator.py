"""``rxaudit sample``: write a synthetic audit bundle with its ground truth.

    DIR/settlements.csv, DIR/settlement_items.csv, DIR/item_catalogue.csv, DIR/cameras.yaml,
    DIR/pharmacies.csv (with lat,lon), DIR/purchases.csv, DIR/stock.csv (sample_footage.records),
    DIR/expected.json,
    DIR/videos/<pharmacy_id>/<counter_id>/<YYYYMMDD>T<HHMMSS>+0800.mp4
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import av
import yaml

from ingest.video_store import segment_name
from rxaudit.errors import RxauditError
from sample_footage.baskets import catalogue_rows
from sample_footage.records import RECORD_KINDS, PlanConflict, RecordsPlan, plan_records, write_records
from sample_footage.scenarios import Cluster, PlannedSettlement, Planner
from sample_footage.scene import (CUSTOMER_ZONE, DISPLAY_ZONE, GOODS_ZONE, HEIGHT, WIDTH, Appearance, Backdrop,
                                  CounterItem, render)

SEGMENT_S = 60.0
LEAD_S = 12.0  # footage recorded before a cluster's first event and after its last
# (pharmacy index, counter) -> (codec, fps, clock offset in seconds)
CAMERAS = {(1, "C2"): ("libx265", 12, 6.0)}
DEFAULT_CAMERA = ("libx264", 10, 0.0)
PLAN_ATTEMPTS = 20  # days drawn for one seed before giving up (about 3 % of first draws are re-planned)


def write_segment(path: Path, start_epoch: float, length: float, codec: str, fps: int,
                  backdrop: Backdrop, people: list[tuple[float, Appearance]], tz,
                  items: tuple[CounterItem, ...] = (), display: tuple[CounterItem, ...] = ()) -> None:
    """``items`` are on the camera clock already (epoch seconds); ``display``: under a glass top."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", container_options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        if codec == "libx264":
            stream.options = {"g": str(fps), "preset": "veryfast", "crf": "27"}
        else:
            stream.options = {"g": str(fps), "preset": "ultrafast", "crf": "30",
                              "x265-params": f"keyint={fps}:log-level=error"}
        placed = [replace(p, arrive=p.arrive + base, leave=p.leave + base,
                          step_forward_at=None if p.step_forward_at is None
                          else p.step_forward_at + base)
                  for base, p in people]
        for k in range(int(round(length * fps))):
            t = start_epoch + k / fps
            image = render(backdrop, placed, t, fps, datetime.fromtimestamp(t, tz), items, display)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def render_cluster(root: Path, cluster: Cluster, pharmacy_index: int, backdrop: Backdrop,
                   offset: float | None = None) -> None:
    """``offset``: the camera clock minus true time (default: the camera's in CAMERAS)."""
    codec, fps, default_offset = CAMERAS.get((pharmacy_index, cluster.counter_id), DEFAULT_CAMERA)
    offset = default_offset if offset is None else offset
    cam_start = cluster.start.timestamp() + offset  # camera clock = true clock + offset
    first = cam_start - LEAD_S - cluster.extra_lead_s
    end = cam_start + cluster.duration + LEAD_S + cluster.extra_lead_s
    cashier = Appearance("cashier", -1e5, 1e5, 565, depth=0.3)
    people = [(cam_start, p) for p in [cashier, *cluster.people]]
    items = tuple(replace(i, start=i.start + cam_start, end=i.end + cam_start) for i in cluster.items)
    folder = root / cluster.pharmacy_id / cluster.counter_id
    t = first
    while t < end:
        length = min(SEGMENT_S, end - t)
        stamp = datetime.fromtimestamp(round(t), cluster.start.tzinfo)
        path = folder / segment_name(stamp)
        write_segment(path, round(t), length, codec, fps, backdrop, people, cluster.start.tzinfo, items,
                      cluster.display)
        t = round(t) + length
    if cluster.footage == "corrupt":
        for path in folder.glob(segment_name(datetime.fromtimestamp(round(first), cluster.start.tzinfo))):
            data = path.read_bytes()
            path.write_bytes(data[: int(len(data) * 0.35)])


def camera_offset(planner: Planner, pharmacy_index: int, key: tuple[str, str]) -> float:
    """The true offset of a counter's camera clock: configured (and right) or unknown."""
    default = CAMERAS.get((pharmacy_index, key[1]), DEFAULT_CAMERA)[2]
    return planner.configured_offsets.get(key, default) + planner.unknown_offsets.get(key, 0.0)


def clock_offsets(planner: Planner) -> dict[str, dict[str, float]]:
    """expected.json "clock_offsets": every counter whose configured or true offset is not zero."""
    out = {}
    for (index, counter), (_, _, offset) in CAMERAS.items():
        out[f"{planner.pharmacies[index]}/{counter}"] = {"configured_s": offset, "true_s": offset}
    for (pharmacy, counter), offset in planner.configured_offsets.items():
        out[f"{pharmacy}/{counter}"] = {"configured_s": round(offset, 3), "true_s": round(offset, 3)}
    for (pharmacy, counter), offset in planner.unknown_offsets.items():
        out[f"{pharmacy}/{counter}"] = {"configured_s": 0.0, "true_s": round(offset, 3)}
    return out


@dataclass
class BundlePlan:
    """A seed's day, checked: its clusters, its swipes in time order and its records."""
    planner: Planner
    clusters: list[Cluster]
    rows: list[tuple[datetime, Cluster, PlannedSettlement]]
    records: RecordsPlan


def timeline(clusters: list[Cluster]) -> list[tuple[datetime, Cluster, PlannedSettlement]]:
    """Every planned swipe with its true time, in time order."""
    rows = [(cluster.start + timedelta(seconds=s.rel_t), cluster, s)
            for cluster in clusters for s in cluster.settlements]
    rows.sort(key=lambda r: r[0])
    return rows


def plan_bundle(seed: int, *, stocked: bool = False) -> BundlePlan:
    """The seed's day (attempt 0: the day every earlier version drew); where the records cannot be
    planned on it, the day drawn again from a sub-seed, up to PLAN_ATTEMPTS times. ``stocked``:
    every counter has goods of its own on display and lying on it (sample_footage.stocked)."""
    for attempt in range(PLAN_ATTEMPTS):
        planner = Planner(seed, attempt, stocked=stocked)
        clusters = planner.plan()
        rows = timeline(clusters)
        try:
            records = plan_records(rows, planner.pharmacies, seed)  # purchases, stock, trace codes, places
        except PlanConflict:
            continue
        return BundlePlan(planner, clusters, rows, records)
    raise RxauditError(f"sample plan: no valid day for seed {seed} in {PLAN_ATTEMPTS} attempts; "
                       "try another --seed")


def write_bundle(out: Path, seed: int, *, stocked: bool = False) -> dict:
    plan = plan_bundle(seed, stocked=stocked)
    planner, clusters, rows, records = plan.planner, plan.clusters, plan.rows, plan.records
    rng = planner.rng
    out.mkdir(parents=True, exist_ok=True)
    videos = out / "videos"
    backdrops: dict[tuple[str, str], Backdrop] = {}
    index = {p: i for i, p in enumerate(planner.pharmacies)}
    for cluster in clusters:
        if cluster.footage in ("missing", "unknown_counter"):
            continue
        key = (cluster.pharmacy_id, cluster.counter_id)
        backdrop = backdrops.setdefault(key, Backdrop(random.Random(f"{seed}-{key}")))
        render_cluster(videos, cluster, index[cluster.pharmacy_id], backdrop,
                       camera_offset(planner, index[cluster.pharmacy_id], key))
    for cluster in clusters:  # a counter that exists but recorded nothing at that time
        if cluster.footage == "missing":
            (videos / cluster.pharmacy_id / cluster.counter_id).mkdir(parents=True, exist_ok=True)
    expected: dict[str, list] = {k: [] for k in (
        "no_customer", "card_pooling", "goods_mismatch", "unverifiable", "off_hours", "burst",
        "duplicate_settlement", *RECORD_KINDS)}
    expected["clean"] = []
    expected["clock_suspect"] = []
    scenarios: dict[str, list[str]] = {}
    lines = [["settlement_id", "pharmacy_id", "counter_id", "settled_at", "card_id", "amount",
              "operator"]]
    items = [["settlement_id", "item_code", "item_name", "quantity", "unit_price"]]
    for at, cluster, s in rows:
        lines.append([s.settlement_id, cluster.pharmacy_id, cluster.counter_id,
                      at.isoformat(timespec="milliseconds"), s.card_id, s.amount,
                      f"OP{rng.randint(1, 9)}"])
        prices = [line.unit_price for line in s.lines]
        if prices:  # the first line takes what the others leave of the amount
            rest = sum(float(p) for p in prices[1:])
            prices[0] = f"{max(0.01, float(s.amount) - rest):.2f}"
        for line, price in zip(s.lines, prices):
            items.append([s.settlement_id, line.item_code, line.item_name, str(line.quantity), price])
        for kind in sorted(s.expect):
            expected[kind].append(s.settlement_id)
        if s.scenario:
            scenarios.setdefault(s.scenario, []).append(s.settlement_id)
        if s.scenario == "clock_unknown":  # customers there, but the camera shows them elsewhere
            expected["clock_suspect"].append(s.settlement_id)
        elif not s.expect:
            expected["clean"].append(s.settlement_id)
    bad = [["BAD1", planner.pharmacies[0], "C1", "yesterday at noon", planner.card(), "12.00", "OP1"],
           ["BAD2", planner.pharmacies[1], "C1", "2026-11-20T10:00:00.000+08:00", "", "9.90", "OP2"],
           ["BAD3", planner.pharmacies[2], "C1", "2026-11-20T10:00:00.000+08:00", planner.card(),
            "twelve", "OP3"]]
    rejected_lines = []
    for row in bad:
        position = rng.randint(1, len(lines))
        lines.insert(position, row)
    for number, row in enumerate(lines, start=1):
        if row[0].startswith("BAD"):
            rejected_lines.append(number)
    with (out / "settlements.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(lines)
    with (out / "settlement_items.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(items)
    with (out / "item_catalogue.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(catalogue_rows())

    cameras = {
        "defaults": {"business_hours": "08:00-22:00", "timezone": "Asia/Shanghai",
                     "zone": [list(p) for p in CUSTOMER_ZONE], "goods_zone": [list(p) for p in GOODS_ZONE]},
        "pharmacies": {
            planner.pharmacies[2]: {"business_hours": "08:00-21:00"},
            planner.pharmacies[1]: {"counters": {"C2": {
                "zone": [list(p) for p in CUSTOMER_ZONE], "goods_zone": [list(p) for p in GOODS_ZONE],
                "clock_offset_s": CAMERAS[(1, "C2")][2]}}},
        },
    }
    districts = ["Chengguan", "Qilihe", "Chengguan"]
    with (out / "pharmacies.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["pharmacy_id", "name", "district"])
        for k, pharmacy in enumerate(planner.pharmacies):
            writer.writerow([pharmacy, f"Sample Pharmacy {k + 1}", districts[k]])
    for (pharmacy, counter), offset in planner.configured_offsets.items():
        cameras["pharmacies"].setdefault(pharmacy, {}).setdefault("counters", {})[counter] = {
            "zone": [list(p) for p in CUSTOMER_ZONE], "goods_zone": [list(p) for p in GOODS_ZONE],
            "clock_offset_s": round(offset, 3)}
    if stocked:  # the installer marks each counter's glass top as its display zone
        for entry in [cameras["defaults"], *(c for p in cameras["pharmacies"].values()
                                             for c in p.get("counters", {}).values())]:
            entry["display_zone"] = [list(p) for p in DISPLAY_ZONE]
        expected["stocked"] = True
    (out / "cameras.yaml").write_text(yaml.safe_dump(cameras, sort_keys=False), encoding="utf-8")
    expected["scenarios"] = scenarios
    expected["clock_offsets"] = clock_offsets(planner)
    expected["clock_suspect_counters"] = [f"{p}/{c}" for p, c in planner.unknown_offsets]
    write_records(out, records)
    expected["rejected_lines"] = rejected_lines
    expected["seed"] = seed
    (out / "expected.json").write_text(json.dumps(expected, indent=2), encoding="utf-8")
    return expected
