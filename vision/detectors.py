"""Small Protocols the pipeline depends on, so tests can swap fakes for the real models."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rxaudit.domain import Box, DetectedObject, Face, Person


class PersonDetector(Protocol):
    def detect(self, frames: list[np.ndarray]) -> list[list[Person]]:
        """Persons (with keypoints) for each RGB frame of a batch."""
        ...


class FaceEncoder(Protocol):
    def faces(self, frame: np.ndarray, regions: list[Box]) -> list[Face]:
        """Faces with 128-d encodings found inside ``regions`` of an RGB frame."""
        ...


class ObjectDetector(Protocol):
    def detect(self, frames: list[np.ndarray]) -> list[list[DetectedObject]]:
        """Cards, phones and goods for each RGB frame."""
        ...
