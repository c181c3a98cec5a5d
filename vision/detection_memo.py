"""Models that remember what they found on a frame, by the frame's pixels (the live audit's CPU).

The live worker audits each swipe with its chain: the counter's neighbouring swipes whose windows
join its own are decoded again with it (``audit.live``), so on a busy counter the same frames reach
the detectors two or three times. Wrapped here, a model runs once per distinct frame: the key is a
128-bit XXH3 digest of the frame's pixels, shape and dtype (and, for faces, of the regions asked
about), so a remembered answer is the model's answer on those exact pixels and the audit's result
is unchanged. XXH3 is not a cryptographic hash, but it reads a 640x360 frame in ~0.02 ms where
BLAKE2b takes ~0.7 ms (a fifth of a person detection); an accidental collision of 128 bits is out of
reach, and whoever could forge one controls the camera's pixels anyway. At most ``capacity`` answers
are kept per model, the least recently used dropped.

Only answers are kept, never frames: a person detector's answer on one frame is a few hundred bytes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import numpy as np
import xxhash

from rxaudit.domain import Box, Face, Person
from vision.model_set import Models

T = TypeVar("T")


def frame_key(image: np.ndarray, regions: Sequence[Box | Person] = ()) -> bytes:
    """A digest of the frame's pixels (and of ``regions``: boxes, and persons' keypoints)."""
    h = xxhash.xxh3_128()
    h.update(f"{image.shape}|{image.dtype.str}".encode())
    h.update(np.ascontiguousarray(image).data)
    for region in regions:  # each tagged with its kind: a list of boxes never reads as one person
        person = isinstance(region, Person)
        box = region.box if person else region
        h.update(b"P" if person else b"B")
        h.update(np.asarray([box.x1, box.y1, box.x2, box.y2], np.float64).tobytes())
        if person:
            h.update(np.ascontiguousarray(region.keypoints, np.float64).tobytes())
    return h.digest()


@dataclass
class MemoStats:
    hits: int = 0
    misses: int = 0


class Memo(Generic[T]):
    """At most ``capacity`` answers by key, least recently used dropped first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"memo capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.stats = MemoStats()
        self._kept: OrderedDict[bytes, T] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: bytes) -> T | None:
        found = self._kept.get(key)
        if found is None:
            self.stats.misses += 1
            return None
        self._kept.move_to_end(key)
        self.stats.hits += 1
        return found

    def put(self, key: bytes, value: T) -> None:
        self._kept[key] = value
        self._kept.move_to_end(key)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)


class _Passthrough:
    """Attributes other than the wrapped call (an input ``size``, a model path) are the inner model's."""

    inner: Any

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


class RememberingDetector(_Passthrough):
    """A ``PersonDetector`` or ``ObjectDetector`` that runs its inner model on unseen frames only."""

    def __init__(self, inner: Any, capacity: int) -> None:
        self.inner, self.memo = inner, Memo[tuple](capacity)

    def detect(self, frames: list[np.ndarray]) -> list[list[Any]]:
        keys = [frame_key(f) for f in frames]
        answers: list[tuple | None] = [self.memo.get(k) for k in keys]
        unseen = [i for i, a in enumerate(answers) if a is None]
        if unseen:
            for i, found in zip(unseen, self.inner.detect([frames[i] for i in unseen])):
                answers[i] = tuple(found)
                self.memo.put(keys[i], answers[i])
        return [list(a or ()) for a in answers]


class RememberingFaces(_Passthrough):
    """A ``FaceEncoder`` that encodes the same regions of the same frame once."""

    def __init__(self, inner: Any, capacity: int) -> None:
        self.inner, self.memo = inner, Memo[tuple](capacity)

    def faces(self, frame: np.ndarray, regions: Sequence[Box | Person]) -> list[Face]:
        key = frame_key(frame, regions)
        found = self.memo.get(key)
        if found is None:
            found = tuple(self.inner.faces(frame, regions))
            self.memo.put(key, found)
        return list(found)


def remembering(models: Models, capacity: int) -> Models:
    """``models`` with each model remembering its last ``capacity`` answers (0: unchanged)."""
    if capacity <= 0 or isinstance(models.persons, RememberingDetector):
        return models
    wrap: Callable[[Any], Any] = lambda m: None if m is None else RememberingDetector(m, capacity)  # noqa: E731
    return replace(models, persons=wrap(models.persons), objects=wrap(models.objects),
                   faces=None if models.faces is None else RememberingFaces(models.faces, capacity))


def memo_stats(models: Models) -> dict[str, dict[str, int]]:
    """Hits and misses per remembering model (empty where none remembers)."""
    out = {}
    for name in ("persons", "objects", "faces"):
        model = getattr(models, name)
        if isinstance(model, (RememberingDetector, RememberingFaces)):
            out[name] = {"hits": model.memo.stats.hits, "misses": model.memo.stats.misses}
    return out
