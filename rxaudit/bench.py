"""``rxaudit bench``: CPU seconds per settlement, settlements per second and peak memory of an audit,
on a throw-away database and evidence folder (the user's database is never touched)."""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from rxaudit.pipeline import audit, load_models
from rxaudit.settings import Settings


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_bench(settings: Settings, *, settlements_file: Path, videos: Path,
              cameras_file: Path | None, repeat: int = 1) -> dict[str, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    models = load_models(settings)
    load_wall, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeat):
            run_settings = settings.model_copy(update={
                "db_url": f"sqlite:///{tmp}/bench{k}.db", "evidence_dir": Path(tmp) / f"ev{k}"})
            report = audit(run_settings, settlements_file=settlements_file, videos=videos,
                           cameras_file=cameras_file, models=models)
            runs.append(report)
    best = min(runs, key=lambda r: r.stats["cpu_s"])
    n = max(1, best.summary["audited"])
    return {
        "settlements": best.summary["audited"],
        "cpu_s_per_settlement": round(best.stats["cpu_s"] / n, 4),
        "settlements_per_s": round(n / best.stats["wall_s"], 3),
        "wall_s": round(best.stats["wall_s"], 2),
        "cpu_s": round(best.stats["cpu_s"], 2),
        "frames_analysed": int(best.stats["frames_analysed"]),
        "video_s_decoded": round(best.stats["video_s_decoded"], 1),
        "model_load_s": {"wall": round(load_wall, 2), "cpu": round(load_cpu, 2)},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "repeat": repeat,
        "flags_by_kind": best.summary["flags_by_kind"],
    }
