"""Small Protocols the pipeline depends on, so tests can swap fakes for the real models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from rxaudit.domain import Box, DetectedObject, Face, Person


class PersonDetector(Protocol):
    def detect(self, frames: list[np.ndarray]) -> list[list[Person]]:
        """Persons (with keypoints) for each RGB frame of a batch."""
        ...


class FaceEncoder(Protocol):
    def faces(self, frame: np.ndarray, regions: Sequence[Box | Person]) -> list[Face]:
        """Faces with encodings found inside ``regions`` of an RGB frame: a box, or a person (whose
        keypoints let the encoder skip people turned away from the camera)."""
        ...


class ObjectDetector(Protocol):
    def detect(self, frames: list[np.ndarray]) -> list[list[DetectedObject]]:
        """Cards, phones and goods for each RGB frame."""
        ...
