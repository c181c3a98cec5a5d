"""``rxaudit bench-models``: CPU milliseconds per frame of each detector at the input size the audit
uses, on rendered counter frames (no footage needed) or on a video's frames (``--video``).

CPU time is this process's (``time.process_time``), so it counts every onnxruntime thread; with
the default ``onnx_threads: 1`` it equals wall time on an idle machine. The first runs are warm-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from audit.counter_audit import load_models
from vision.detect import frames_of
from rxaudit.settings import Settings
from sample_footage.detection_set import render_image
from vision.person import fitted_shape

WARMUP = 3


def _cost(run: Callable[[np.ndarray], Any], frames: list[np.ndarray]) -> dict[str, float]:
    for frame in frames[:WARMUP]:
        run(frame)
    cpu, wall = [], []
    for frame in frames:
        c0, w0 = time.process_time(), time.perf_counter()
        run(frame)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return {"cpu_ms_median": round(statistics.median(cpu), 2), "cpu_ms_mean": round(statistics.mean(cpu), 2),
            "wall_ms_median": round(statistics.median(wall), 2), "frames": len(frames)}


def bench_models(settings: Settings, *, frames: int = 60, video: Path | None = None,
                 face_footage: Path | None = None) -> dict[str, Any]:
    images = ([img for _, img in islice(frames_of(video, 1.0), frames)] if video is not None
              else [render_image(4242, "bench", k)[0] for k in range(frames)])
    models = load_models(settings)
    height, width = images[0].shape[:2]
    result: dict[str, Any] = {"frame_size": [width, height], "onnx_threads": settings.onnx_threads,
                              "source": str(video) if video else "rendered counters (seed 4242)"}
    canvas_h, canvas_w = fitted_shape(height, width, settings.pose_input_size)
    result["person_pose"] = {"input": f"{canvas_w}x{canvas_h}", "runtime": settings.pose_runtime,
                             **_cost(lambda f: models.persons.detect([f]), images)}
    if models.objects is not None:
        h, w = models.objects.size
        result["counter_objects"] = {"input": f"{w}x{h}", **_cost(lambda f: models.objects.detect([f]), images)}
    if face_footage is not None:  # YuNet vs HOG, SFace vs dlib on real clips (up to `frames` per clip)
        from benchmarks.faces import bench_faces

        result["faces"] = bench_faces(settings, face_footage, frames_per_clip=frames, persons=models.persons)
    return result
