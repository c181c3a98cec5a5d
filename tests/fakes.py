"""Fakes for the detector Protocols: a person wherever a frame has a bright block on its left."""

from __future__ import annotations

import numpy as np

from rxaudit.domain import Box, Face, Person


class BrightBlockPersons:
    """Frames from ``scene_frame``: a white block in the left half means a customer stands there."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, frames: list[np.ndarray]) -> list[list[Person]]:
        self.calls += len(frames)
        out = []
        for frame in frames:
            h, w = frame.shape[:2]
            left = frame[:, : w // 2]
            if left.mean() > 100:
                out.append([Person(box=Box(10, 10, w // 2 - 10, h - 10), score=0.9,
                                   keypoints=np.zeros((17, 3), np.float32))])
            else:
                out.append([])
        return out


class NoFaces:
    def faces(self, frame: np.ndarray, regions: list[Box]) -> list[Face]:
        return []


def scene_frame(present: bool, size: tuple[int, int] = (160, 96)) -> np.ndarray:
    width, height = size
    image = np.full((height, width, 3), 30, np.uint8)
    if present:
        image[:, : width // 2] = 230
    return image
