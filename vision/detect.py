"""``rxaudit detect``: every detector on images or videos, for an integrator to check what rxaudit
sees on their own cameras. Videos are sampled at ``fps`` (1 by default) through the same PyAV
sampler the audit uses. Output contract (kept stable):

    {"items": [{"path": str, "t": float | null, "detections": [{"cls", "score", "box"}]}],
     "errors": [{"path": str, "error": str}]}

``t`` is seconds from the start of a video (null for an image); ``box`` is [x1, y1, x2, y2] pixels;
``cls`` is ``person``, ``face`` (dlib gives no score: null) or a counter-detector class. A file that
cannot be read is listed in ``errors``; the other files are still processed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ingest.video_store import LocalVideoStore
from rxaudit.domain import Segment
from vision.model_set import Models
from vision.sampler import sample_window

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK_S = 60.0  # a video is decoded a minute at a time, so a long recording never sits in memory


def frames_of(path: Path, fps: float) -> Iterator[tuple[float | None, np.ndarray]]:
    """(t, RGB image) pairs of an image or a video; raises ValueError when nothing can be read."""
    if not path.is_file():
        raise ValueError("no such file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        bgr = cv2.imread(str(path))
        if bgr is None:
            raise ValueError("not a readable image")
        yield None, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return
    store = LocalVideoStore(path.parent)
    segment = Segment("-", "-", EPOCH, path.name)
    chunk = math.ceil(CHUNK_S * fps) / fps  # whole sampling steps, at least one
    start = EPOCH
    while True:  # chunk ends stop half a step short, so no grid time is sampled twice
        end = start + timedelta(seconds=chunk - 0.5 / fps)
        sample = sample_window(store, [segment], start, end, fps)
        if not sample.frames:
            if start == EPOCH:
                raise ValueError("; ".join(sample.problems) or "no frames could be decoded")
            return
        for frame in sample.frames:
            yield round((frame.t - EPOCH).total_seconds(), 3), frame.image
        start += timedelta(seconds=chunk)


def detect_image(image: np.ndarray, models: Models) -> list[dict[str, Any]]:
    persons = models.persons.detect([image])[0]
    found = [{"cls": "person", "score": round(p.score, 3), "box": p.box.as_list()} for p in persons]
    if models.faces is not None and persons:
        found += [{"cls": "face", "score": None, "box": f.box.as_list()}
                  for f in models.faces.faces(image, [p.box for p in persons])]
    if models.objects is not None:
        found += [o.to_json() for o in models.objects.detect([image])[0]]
    return found


def detect_paths(paths: Sequence[Path], models: Models, fps: float = 1.0) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for path in paths:
        try:
            for t, image in frames_of(Path(path), fps):
                items.append({"path": str(path), "t": t, "detections": detect_image(image, models)})
        except ValueError as exc:
            errors.append({"path": str(path), "error": str(exc)})
    return {"items": items, "errors": errors}
