"""``rxaudit bench-record``: the recorder on N real RTSP test cameras for M minutes.

1. Sample counter footage at ``--size`` and ``--fps`` (20 s rendered, copied back to back to last
   the run), served by GStreamer's RTSP server: N-1 cameras from one server process, camera 0 from
   its own, so that it can be pulled and plugged back half-way (``--outage`` seconds).
2. ``rxaudit record`` in a subprocess (a temporary SQLite database, store and evidence folder: the
   wall's snapshots every 2 s and the tamper checks are part of what is measured). Its CPU is read from
   /proc over the steady part of the run (after ``--warmup`` seconds), its peak RSS from the kernel
   when it exits (wait4).
3. Afterwards every segment is decoded whole: segments written against expected, each one's
   duration against ``segment_s`` (those next to the start, the stop or the outage excepted), none
   corrupt; and the seconds from camera 0 coming back to recording again (its gap's end in the
   database).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

MAX_CAMERAS, MAX_MINUTES = 200, 120


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _footage(folder: Path, seconds: float, size: tuple[int, int], fps: int) -> Path:
    from recorder.fake_camera import back_to_back, counter_footage

    clip = counter_footage(folder / "clip.mp4", 20, fps=fps, size=None if size == (640, 360) else size)
    return back_to_back(clip, folder / "long.mp4", int(seconds // 20) + 2)


def _probe(path: Path) -> tuple[float, int, bool]:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            times = [frame.time for frame in container.decode(stream)]
            step = float(1 / stream.average_rate) if stream.average_rate else 0.0
    except Exception:  # noqa: BLE001 - a corrupt segment is what is counted here
        return 0.0, 0, False
    return ((times[-1] - times[0] + step) if times else 0.0), len(times), bool(times)


def run(cameras: int, minutes: float, size: tuple[int, int], fps: int, segment_s: float,
        outage_s: float, warmup_s: float, work: Path) -> dict:
    from database.engine import make_engine, session_factory
    from database.models import CameraGapRow
    from recorder.fake_camera import RtspCamera
    from sqlalchemy import select

    seconds = minutes * 60
    long = _footage(work / "footage", seconds + warmup_s + 60, size, fps)
    solo = RtspCamera({"cam0": long}).start()
    rest = RtspCamera({f"cam{i}": long for i in range(1, cameras)}).start() if cameras > 1 else None
    urls = [solo.url("cam0")] + [rest.url(f"cam{i}") for i in range(1, cameras)]
    lines = ["pharmacies:", "  BENCH:", "    counters:"]
    lines += [f"      C{i}: {{stream: '{url}'}}" for i, url in enumerate(urls)]
    (work / "cameras.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store, db = work / "store", f"sqlite:///{work}/record.db"
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "record", "--cameras", str(work / "cameras.yaml"),
                             "--videos", str(store), "--db", db, "--segment-s", str(segment_s),
                             "--evidence-dir", str(work / "evidence")],
                            cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    started = datetime.now().astimezone()
    try:
        time.sleep(warmup_s)
        cpu0, t0 = _cpu_s(proc.pid), time.monotonic()
        time.sleep(max(0.0, seconds / 2 - outage_s / 2))
        solo.kill()
        pulled = datetime.now().astimezone()
        time.sleep(outage_s)
        solo.start()
        back = datetime.now().astimezone()
        time.sleep(max(0.0, seconds / 2 - outage_s / 2))
        cpu1, t1 = _cpu_s(proc.pid), time.monotonic()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        solo.kill()
        if rest is not None:
            rest.kill()
    stopped = datetime.now().astimezone()
    with session_factory(make_engine(db))() as session:
        all_gaps = list(session.scalars(select(CameraGapRow).order_by(CameraGapRow.start)))
    gaps_by_camera: dict[str, list] = {}
    for gap in all_gaps:
        gaps_by_camera.setdefault(gap.counter_id, []).append(gap)
    gaps = gaps_by_camera.get("C0", [])
    recovered = [g for g in gaps if g.end is not None and g.end >= back]
    back_s = (min(g.end for g in recovered) - back).total_seconds() if recovered else None
    gap_s = sum((g.end - g.start).total_seconds() for g in recovered)
    per_camera, durations, corrupt, off = [], [], 0, 0
    for i in range(cameras):
        files = sorted((store / "BENCH" / f"C{i}").glob("*.mp4"))
        probes = [_probe(p) for p in files]
        corrupt += sum(not ok for *_, ok in probes)
        inner = probes[1:-1]  # the first begins after the start, the last ends at the stop
        if i == 0:  # and those ending or beginning at the outage
            names = [datetime.strptime(p.stem, "%Y%m%dT%H%M%S%z") for p in files[1:-1]]
            inner = [pr for pr, n in zip(inner, names)
                     if not (pulled - timedelta(seconds=segment_s + 1) <= n <= back + timedelta(seconds=20))]
        off += sum(abs(d - segment_s) > 0.2 for d, _, ok in inner if ok)
        durations += [d for d, _, ok in inner if ok]
        recorded = sum(d for d, _, ok in probes if ok)
        starts = [datetime.strptime(p.stem, "%Y%m%dT%H%M%S%z") for p in files]
        # expected: from the first frame to the end of the last segment, split at the camera's gaps
        # as the recorder stored them; each stretch of S seconds is ceil(S / segment_s) segments
        runs, span, expected = [], 0.0, 0
        if files:
            edges = [starts[0]]
            for gap in gaps_by_camera.get(f"C{i}", []):
                if gap.end is not None and starts[0] < gap.start:
                    edges += [gap.start, gap.end]
            edges.append(starts[-1] + timedelta(seconds=probes[-1][0]))
            runs = [(edges[k], edges[k + 1]) for k in range(0, len(edges), 2)]
        for first, last in runs:
            seconds_ = max(0.0, (last - first).total_seconds())
            span += seconds_
            expected += -int(-round(seconds_, 1) // segment_s)
        per_camera.append({"camera": f"C{i}", "segments": len(files), "recorded_s": round(recorded, 1),
                           "expected_segments": expected, "span_s": round(span, 1), "runs": len(runs),
                           "first_frame_after_start_s": round((starts[0] - started).total_seconds(), 1)
                           if files else None})
    cpu_share = (cpu1 - cpu0) / (t1 - t0)
    return {
        "cameras": cameras, "minutes": minutes, "size": f"{size[0]}x{size[1]}", "fps": fps,
        "segment_s": segment_s, "recorder_exit": proc.returncode,
        "cpu_share_of_one_core_per_camera": round(cpu_share / cameras, 5),
        "cpu_share_of_one_core_total": round(cpu_share, 4),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "segments_written": sum(c["segments"] for c in per_camera),
        "segments_expected_about": sum(c["expected_segments"] for c in per_camera),
        "segments_corrupt": corrupt,
        "inner_segments": len(durations), "inner_segments_off_by_more_than_0_2s": off,
        "inner_duration_min_s": round(min(durations), 3) if durations else None,
        "inner_duration_max_s": round(max(durations), 3) if durations else None,
        "camera_back_to_recording_s": None if back_s is None else round(back_s, 2),
        "outage_s": outage_s, "camera0_gap_s": round(gap_s, 2),
        "counters_with_a_snapshot": sum((work / "evidence" / "snapshots" / "BENCH" / f"C{i}.jpg").is_file()
                                        for i in range(cameras)),
        "per_camera": per_camera,
    }


def cmd_bench_record(args: argparse.Namespace) -> int:
    from recorder.fake_camera import missing
    from rxaudit.errors import ConfigError

    if not 1 <= args.cameras <= MAX_CAMERAS or not 0.5 <= args.minutes <= MAX_MINUTES:
        raise ConfigError(f"--cameras 1..{MAX_CAMERAS}, --minutes 0.5..{MAX_MINUTES}")
    if why := missing():
        raise ConfigError(f"bench-record needs the RTSP test cameras: {why}")
    width, _, height = args.size.partition("x")
    with tempfile.TemporaryDirectory(prefix="rxaudit-bench-record-") as tmp:
        figures = run(args.cameras, args.minutes, (int(width), int(height)), args.fps, args.segment_s,
                      args.outage, args.warmup, Path(tmp))
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench-record", help="the recorder on N RTSP test cameras: CPU, RSS, segments, recovery")
    p.add_argument("--cameras", type=int, default=10)
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the cameras' footage (640x360)")
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--segment-s", dest="segment_s", type=float, default=10.0)
    p.add_argument("--outage", type=float, default=8.0, help="seconds camera 0 is pulled half-way")
    p.add_argument("--warmup", type=float, default=15.0, help="seconds before CPU is measured")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.set_defaults(func=cmd_bench_record)
