"""``rxaudit bench``: rxaudit against a naive baseline on the same inputs, each in a subprocess of
its own (so peak memory is that configuration's), on a throw-away database and evidence folder.

- rxaudit: the configured settings (1 fps on keyframes, 4 fps within 3 s of each swipe, windows merged
  per counter, motion gating, a low detection rate far from swipes, whose frames in between, their
  detections reused unseen, are not decoded).
- naive: every frame of the windows decoded, the person detector on every frame, no keyframe-only
  decoding, no gating; same models, input size, faces and rules, and the same per-counter window
  grouping (a customer's stay across several swipes must stay one track for the rules to hold).
CPU seconds exclude the one-time model loading (reported apart). ``--scale 1,10`` repeats the log
(new ids and cards, same footage) to show memory staying flat as the batch grows.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NAIVE = {"sample_fps": 1000.0, "keyframes_only": False, "motion_threshold": 0.0, "far_detect_every_s": 0.0,
         "far_idle_every_s": 0.0}



def peak_rss_mb() -> float:
    """Peak resident set of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def scaled_log(path: Path, factor: int, out: Path) -> Path:
    """The log repeated ``factor`` times with new settlement ids and card ids."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    sid, card = header.index("settlement_id"), header.index("card_id")
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for k in range(factor):
            for row in body:
                row = list(row)
                if len(row) == len(header):
                    row[sid] = f"{row[sid]}-{k}" if k else row[sid]
                    row[card] = f"{row[card]}{k}" if k and row[card] else row[card]
                writer.writerow(row)
    items = path.with_name("settlement_items.csv")
    if items.exists() and factor == 1:
        out.with_name(items.name).write_bytes(items.read_bytes())
    return out


STAGES = ("decode", "person", "faces", "objects", "drawing")


def split(stats: dict[str, float], n: int) -> dict[str, float]:
    """CPU seconds per settlement of each stage, and the remainder of the audit's CPU time."""
    out = {stage: round(stats.get(f"cpu_{stage}_s", 0.0) / n, 4) for stage in STAGES}
    out["other"] = round(stats["cpu_s"] / n - sum(out.values()), 4)
    return out


def measure(config: dict[str, Any], settlements: Path, videos: str, cameras: Path | None) -> dict[str, Any]:
    """Runs in the subprocess: one audit, in this process, with these setting overrides."""
    from audit.pipeline import audit, load_models
    from rxaudit.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(db_url=f"sqlite:///{tmp}/bench.db", evidence_dir=f"{tmp}/evidence", **config)
        c0, w0 = time.process_time(), time.perf_counter()
        models = load_models(settings)
        load = {"cpu_s": round(time.process_time() - c0, 2), "wall_s": round(time.perf_counter() - w0, 2)}
        report = audit(settings, settlements_file=settlements, videos=videos, cameras_file=cameras,
                       models=models)
    n = max(1, report.summary["audited"])
    return {
        "settlements": report.summary["audited"],
        "cpu_s_per_settlement": round(report.stats["cpu_s"] / n, 4),
        "settlements_per_s": round(n / report.stats["wall_s"], 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "detector_runs": int(report.stats["detector_runs"]),
        "face_encodings": int(report.stats["face_encodings"]),
        "video_s_decoded": round(report.stats["video_s_decoded"], 1),
        "frames_analysed": int(report.stats["frames_analysed"]),
        "dense_frames": int(report.stats.get("dense_frames", 0)),
        "dense_observed": int(report.stats.get("dense_observed", 0)),
        "object_runs": int(report.stats.get("object_runs", 0)),
        # CPU seconds per settlement of each vision stage; "other" is the rest (rules, database, I/O)
        "cpu_split_per_settlement": split(report.stats, n),
        "model_load": load,
        "flags": sorted([f.settlement_id, str(f.kind)] for r in report.results for f in r.flags),
    }


def _run(config: dict[str, Any], settlements: Path, videos: str, cameras: Path | None) -> dict[str, Any]:
    args = [sys.executable, "-m", "benchmarks.audit", json.dumps(config), str(settlements), videos,
            str(cameras or "")]
    done = subprocess.run(args, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        raise RuntimeError(f"benchmark run failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_bench(*, settlements_file: Path, videos: str, cameras_file: Path | None,
              scales: tuple[int, ...] = (1,), overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    base = dict(overrides or {})
    rxaudit = _run(base, settlements_file, videos, cameras_file)
    naive = _run({**base, **NAIVE}, settlements_file, videos, cameras_file)
    keys = ("cpu_s_per_settlement", "settlements_per_s", "peak_rss_mb")
    result: dict[str, Any] = {
        "rxaudit": {k: rxaudit[k] for k in keys},
        "naive": {k: naive[k] for k in keys},
        "ratio": round(naive["cpu_s_per_settlement"] / max(1e-9, rxaudit["cpu_s_per_settlement"]), 1),
        "same_flags": rxaudit["flags"] == naive["flags"],
        "details": {"rxaudit": {k: v for k, v in rxaudit.items() if k != "flags"},
                    "naive": {k: v for k, v in naive.items() if k != "flags"}},
        "flags": {"rxaudit": rxaudit["flags"], "naive": naive["flags"]},
    }
    if len(scales) > 1 or scales[0] != 1:
        memory = {}
        with tempfile.TemporaryDirectory() as tmp:
            for factor in scales:
                log = scaled_log(settlements_file, factor, Path(tmp) / f"x{factor}.csv")
                run = _run(base, log, videos, cameras_file)
                memory[f"x{factor}"] = {"settlements": run["settlements"], "peak_rss_mb": run["peak_rss_mb"],
                                        "cpu_s_per_settlement": run["cpu_s_per_settlement"]}
        result["memory"] = memory
    return result


if __name__ == "__main__":
    config, settlements, videos, cameras = sys.argv[1:5]
    print(json.dumps(measure(json.loads(config), Path(settlements), videos, Path(cameras) if cameras else None)))
