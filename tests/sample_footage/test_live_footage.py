"""The demo cameras' footage (sample_footage.live_footage) keeps the replay's clock: the frame at stream
time t is the bundle's frame for the bundle time the replay maps t to (plus the camera's clock offset),
the empty counter where the bundle recorded nothing, across a cut idle stretch; and the rig pushes each
settlement at its counter's stream start plus its stream time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import av
import numpy as np

from audit.live_rig import REF, Plan, timed_settlements
from ingest.video_store import segment_name
from sample_footage.live_footage import CounterCamera, light, write_demo_footage
from sample_footage.replay import BundleLog, BundleSettlement, Replay
from tests.videos import make_clip

TZ = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 12, 9, 0, 0, tzinfo=TZ)
LATER = DAY + timedelta(hours=2)


def grey(value: int) -> np.ndarray:
    return np.full((360, 640, 3), value, np.uint8)


def frames_at(path, times: list[float]) -> list[np.ndarray]:
    out = {}
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            out[round(float(f.pts * s.time_base), 2)] = f.to_ndarray(format="rgb24")
    return [out[round(t, 2)] for t in times]


def test_frames_follow_the_replay(tmp_path):
    videos = tmp_path / "videos" / "PH1" / "C1"
    # 20 s at 09:00:00 whose grey is 10 + 10 * second, and 20 s two hours later: 150 + 5 * second
    make_clip(videos / segment_name(DAY), 20, size=(640, 360), gop=10,
              frames=[grey(10 + 10 * (k // 10)) for k in range(200)])
    make_clip(videos / segment_name(LATER), 20, size=(640, 360), gop=10,
              frames=[grey(150 + 5 * (k // 10)) for k in range(200)])
    busy = [(DAY, DAY + timedelta(seconds=20)), (LATER, LATER + timedelta(seconds=20))]
    start = datetime(2030, 1, 1, tzinfo=UTC)
    replay = Replay.plan(DAY + timedelta(seconds=5), start + timedelta(seconds=5), max_idle_s=10, busy=busy)
    out = tmp_path / "demo.mp4"
    cam = CounterCamera("PH1", "C1", "libx264", 10, 0.0)
    counts = write_demo_footage(tmp_path, cam, replay, start, 40, out, seed=1)
    assert counts == {"bundle": 300, "empty": 100}  # 0-20 s and 30-40 s from the bundle, 20-30 s empty
    f35, f195, f25, f325 = frames_at(out, [3.5, 19.5, 25.0, 32.5])
    seen = lambda f, value, at: abs(float(f.mean()) - value * light(at)) < 4  # noqa: E731 - the light drifts
    assert seen(f35, 40, DAY + timedelta(seconds=3.5)) and seen(f195, 200, DAY + timedelta(seconds=19.5))
    assert f25.std() > 20  # the empty counter (a scene), not a grey card
    assert seen(f325, 160, LATER + timedelta(seconds=2.5))  # two seconds into the later segment

    shifted = tmp_path / "offset.mp4"  # a camera 2 s ahead: its segments are named 2 s later
    write_demo_footage(tmp_path, CounterCamera("PH1", "C1", "libx264", 10, 2.0), replay, start, 10, shifted, seed=1)
    (g35,) = frames_at(shifted, [3.5])
    assert seen(g35, 60, DAY + timedelta(seconds=5.5))
    # never the same picture for long: within any minute the light moves by a tenth (frozen_s is 60 s)
    for start_s in range(0, 600, 37):
        lights = [light(DAY + timedelta(seconds=start_s + k)) for k in range(60)]
        assert max(lights) - min(lights) > 0.1


def test_a_damaged_bundle_clip_plays_as_far_as_it_decodes(tmp_path):
    """Bundles plant corrupt clips (their settlements are unverifiable in batch): building the live
    footage goes on, the camera showing the empty counter where the clip does not decode."""
    videos = tmp_path / "videos" / "PH1" / "C1"
    make_clip(videos / segment_name(DAY), 10, size=(640, 360), gop=10, frames=[grey(60) for _ in range(100)])
    make_clip(videos / segment_name(LATER), 10, size=(640, 360), gop=10, frames=[grey(200) for _ in range(100)])
    damaged = videos / segment_name(LATER)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 3:] = bytes(len(data) - len(data) // 3)  # everything after the first third zeroed
    damaged.write_bytes(bytes(data))
    (videos / segment_name(LATER + timedelta(seconds=30))).write_bytes(b"not a video")
    busy = [(DAY, DAY + timedelta(seconds=10)), (LATER, LATER + timedelta(seconds=40))]
    start = datetime(2030, 1, 1, tzinfo=UTC)
    replay = Replay.plan(DAY, start, max_idle_s=5, busy=busy)
    cam = CounterCamera("PH1", "C1", "libx264", 10, 0.0)
    counts = write_demo_footage(tmp_path, cam, replay, start, 40, tmp_path / "demo.mp4", seed=1)
    assert counts["bundle"] >= 100 and counts["empty"] > 0 and counts["bundle"] + counts["empty"] == 400


def test_each_settlement_at_its_counters_stream_start(tmp_path):
    log = BundleLog([BundleSettlement(DAY + timedelta(seconds=s), {
        "settlement_id": f"S{k}", "pharmacy_id": "PH1", "counter_id": c,
        "settled_at": (DAY + timedelta(seconds=s)).isoformat()}) for k, (s, c) in enumerate([(0, "C1"), (7, "C2")])])
    replay = Replay.plan(DAY, REF + timedelta(seconds=30))
    plan = Plan(tmp_path, 1, [], log, replay, 30, 600, None)
    t1 = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
    timed = timed_settlements(plan, {"PH1_C1": t1, "PH1_C2": t1 + timedelta(seconds=1)})
    assert [(w, r["settlement_id"]) for w, r in timed] == [(t1 + timedelta(seconds=30), "S0"),
                                                          (t1 + timedelta(seconds=38), "S1")]
    assert timed[1][1]["settled_at"] == "2026-12-07T20:00:38.000+08:00"


def test_cameras_yaml_for_replicas(tmp_path):
    import yaml

    from audit.live_rig import cameras_yaml
    from ingest.cameras import load_cameras

    (tmp_path / "cameras.yaml").write_text(yaml.safe_dump({
        "defaults": {"business_hours": "08:00-22:00", "timezone": "Asia/Shanghai",
                     "zone": [[0, 0], [0.66, 0], [0.66, 1], [0, 1]]},
        "pharmacies": {"PH1": {"business_hours": "08:00-21:00",
                               "counters": {"C2": {"clock_offset_s": 6.0, "zone": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}}}}}))
    c2 = CounterCamera("PH1", "C2", "libx265", 12, 6.0)
    out = cameras_yaml(tmp_path, [("PH1R0", c2), ("PH1R1", c2)], 8554, tmp_path / "demo.yaml")
    config = load_cameras(out)
    for pharmacy in ("PH1R0", "PH1R1"):
        counter = config.counter(pharmacy, "C2")
        assert counter.stream == f"rtsp://127.0.0.1:8554/{pharmacy}_C2"
        assert counter.clock_offset_s == 0.0  # the demo plays the true clock
        assert counter.zone[1][0] == 0.5
    assert "PH1" not in yaml.safe_load(out.read_text())["pharmacies"]
    for late in (time(0, 0), time(23, 59, 59)):  # the rig plays at any hour: no swipe is off hours
        opens, closes, _ = config.business_hours("PH1R0")
        assert opens <= late < closes
    # a counter without its own entry keeps the defaults' zone (a listed counter would not inherit it)
    c1 = cameras_yaml(tmp_path, [("PH1R0", CounterCamera("PH1", "C1", "libx264", 10, 0.0))], 8554, tmp_path / "c1.yaml")
    assert load_cameras(c1).counter("PH1R0", "C1").zone[1][0] == 0.66


def test_stream_starts_ignore_an_earlier_run(tmp_path):
    from audit.live_rig import fresh_run, stream_starts

    folder = tmp_path / "videos" / "PH1" / "C1"
    folder.mkdir(parents=True)
    old, new = datetime(2026, 12, 7, 11, 0, 0, tzinfo=TZ), datetime(2026, 12, 7, 12, 0, 5, tzinfo=TZ)
    for t in (old, new, new + timedelta(seconds=10)):
        (folder / segment_name(t)).write_bytes(b"x")
    cam = CounterCamera("PH1", "C1", "libx264", 10, 0.0)
    since = new - timedelta(seconds=3)
    assert stream_starts(tmp_path / "videos", [cam], timeout_s=1, since=since) == {"PH1_C1": new}
    (tmp_path / "rxaudit.db").write_bytes(b"x")
    fresh_run(tmp_path, f"sqlite:///{tmp_path}/rxaudit.db")
    assert not (tmp_path / "videos").exists() and not (tmp_path / "rxaudit.db").exists()
    (tmp_path / "other.db").write_bytes(b"x")
    fresh_run(tmp_path, "sqlite:////elsewhere/other.db")
    assert (tmp_path / "other.db").exists()
