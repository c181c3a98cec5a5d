"""``rxaudit bench-memory``: peak RSS of one busy counter's day against its length.

A busy counter (a swipe every 40 s) merges into one decode span; frames are streamed through
sampler -> detector -> tracker -> observations and only the keyframes near swipes are kept, so peak
memory must not grow with the span. For each length (``--hours 0.5,2,12``) a subprocess of its own
(so ``ru_maxrss`` is that run's) audits the counter's footage (``CounterAuditor.footage``: decode,
observe, visits, keyframes) and reports its peak RSS.

The footage is cheap to make: two one-minute 640x360 segments at 4 fps with a 1 s GOP (a customer
standing at the counter for part of each minute, an empty counter otherwise), hard-linked under a
timestamped name for every minute of the day. ``--detectors fake`` (default) finds the customer
by colour, so the run measures the pipeline, not the models; ``--detectors real`` loads the shipped
models (pose, faces, counter objects) and takes far longer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.audit import peak_rss_mb

TZ = timezone(timedelta(hours=8))
DAY_START = datetime(2026, 11, 20, 8, 0, tzinfo=TZ)
WIDTH, HEIGHT, FPS = 640, 360, 4
SWIPE_EVERY_S = 40.0
CUSTOMER = (200, 40, 40)  # the fake customer's colour (RGB)


def _frame(k: int, present: bool) -> np.ndarray:
    image = np.full((HEIGHT, WIDTH, 3), 180, np.uint8)
    image[292:] = (120, 100, 80)  # the counter
    if present:  # a customer swaying slightly in front of the counter
        x = 150 + int(6 * np.sin(k / 3))
        image[90:330, x : x + 90] = CUSTOMER
    return image


def write_pattern(folder: Path) -> list[Path]:
    """Two one-minute segments: a customer for the first 25 s of one, for the last 20 s of the other."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, present in (("a", lambda s: s < 25), ("b", lambda s: s >= 40)):
        path = folder / f"{name}.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            stream.options = {"g": str(FPS), "preset": "ultrafast", "crf": "30"}
            for k in range(60 * FPS):
                frame = av.VideoFrame.from_ndarray(_frame(k, present(k / FPS)), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        paths.append(path)
    return paths


def make_store(root: Path, hours: float) -> Path:
    """``root/videos/PHB/C1/<minute>.mp4`` for ``hours`` of footage, hard links to two patterns."""
    from ingest.video_store import segment_name

    patterns = write_pattern(root / "pattern")
    folder = root / "videos" / "PHB" / "C1"
    folder.mkdir(parents=True, exist_ok=True)
    for minute in range(int(round(hours * 60))):
        os.link(patterns[minute % 2], folder / segment_name(DAY_START + timedelta(minutes=minute)))
    return root / "videos"


class FakePersons:
    """A 'person' wherever the customer colour covers a column band: cheap, deterministic."""

    def detect(self, frames: list[np.ndarray]) -> list[list[Any]]:
        from rxaudit.domain import Box, Person

        out = []
        for image in frames:
            small = image[::8, ::8].astype(np.int16)
            mask = (np.abs(small - np.array(CUSTOMER)).sum(axis=2) < 60)
            cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
            found = []
            if len(cols) >= 3 and len(rows) >= 3:
                box = Box(cols[0] * 8.0, rows[0] * 8.0, cols[-1] * 8.0 + 8, rows[-1] * 8.0 + 8)
                found.append(Person(box=box, score=0.9, keypoints=np.zeros((17, 3), np.float32)))
            out.append(found)
        return out


def run_once(hours: float, detectors: str) -> dict[str, Any]:
    """In this process: make the footage, audit the counter, report peak RSS."""
    from ingest.cameras import CamerasConfig
    from ingest.video_store import LocalVideoStore
    from rxaudit.cards import hash_card
    from audit.counter_audit import CounterAuditor, Models, load_models
    from rxaudit.domain import Settlement
    from rxaudit.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        videos = make_store(root, hours)
        settings = load_settings(db_url=f"sqlite:///{tmp}/unused.db", evidence_dir=f"{tmp}/evidence")
        models = load_models(settings) if detectors == "real" else Models(FakePersons(), None, None)
        n = int((hours * 3600 - 40) // SWIPE_EVERY_S)
        settlements = [Settlement(f"M{k}", "PHB", "C1", DAY_START + timedelta(seconds=20 + k * SWIPE_EVERY_S),
                                  hash_card(f"CARD{k}", b"bench-memory-key"), Decimal("10.00"))
                       for k in range(n)]
        rss0 = peak_rss_mb()
        c0, w0 = time.process_time(), time.perf_counter()
        auditor = CounterAuditor(settings, CamerasConfig(), LocalVideoStore(videos), models,
                                 Path(settings.evidence_dir))
        footage, keyframes = auditor.footage(("PHB", "C1"), settlements)
        return {
            "hours": hours, "detectors": detectors, "settlements": n,
            "frames_observed": int(auditor.stats["frames"]),
            "dense_frames": int(auditor.stats["dense_frames"]),
            "observations": len(footage.observations), "visits": len(footage.visits),
            "keyframes": len(keyframes), "problems": len(footage.problems),
            "cpu_s": round(time.process_time() - c0, 1), "wall_s": round(time.perf_counter() - w0, 1),
            "rss_before_audit_mb": round(rss0, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }


def run_bench(hours: list[float], detectors: str) -> list[dict[str, Any]]:
    results = []
    for h in hours:
        done = subprocess.run([sys.executable, "-m", "benchmarks.memory", str(h), detectors],
                              capture_output=True, text=True, env=os.environ.copy())
        if done.returncode != 0:
            raise RuntimeError(f"bench-memory run failed: {done.stderr[-2000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def cmd_bench_memory(args: argparse.Namespace) -> int:
    hours = [float(h) for h in args.hours.split(",") if h.strip()]
    results = run_bench(hours, args.detectors)
    for r in results:
        print(f"{r['hours']:>5g} h  {r['settlements']:>5} swipes  {r['frames_observed']:>6} frames observed  "
              f"{r['observations']:>6} observations  peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(before the audit {r['rss_before_audit_mb']:.0f} MB)  CPU {r['cpu_s']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench-memory", help="peak RSS of a busy counter's day against its length")
    p.add_argument("--hours", default="0.5,2,12", help="comma-separated lengths of the day, in hours")
    p.add_argument("--detectors", choices=("fake", "real"), default="fake")
    p.add_argument("--json", type=Path)
    p.set_defaults(func=cmd_bench_memory)


if __name__ == "__main__":
    print(json.dumps(run_once(float(sys.argv[1]), sys.argv[2])))
