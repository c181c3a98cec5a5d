"""A camera's burned-in clock (OSD) read with Tesseract, as an independent check of a segment's
timeline (file name + frame timestamps).

Tesseract runs as a subprocess (``tesseract stdin stdout --psm 7``, digits, '-', ':' and space
only, ``OMP_THREAD_LIMIT=1``) on the configured crop of the overlay only, upscaled and binarised.
The digits are read in year-month-day hour:minute:second order (Tesseract often drops the space
between date and time: only the 14 digits matter).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from datetime import datetime, tzinfo

import cv2
import numpy as np

from ingest.video_store import VideoStore
from rxaudit.domain import Segment
from rxaudit.errors import ConfigError
from vision.sampler import read_segment

WHITELIST = "0123456789-: "
TIMEOUT_S = 20.0


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def _prepare(image: np.ndarray, crop: tuple[int, int, int, int]) -> np.ndarray:
    """RGB frame -> the crop, grey, x3, black text on white (what Tesseract reads best)."""
    x, y, w, h = crop
    part = image[y:y + h, x:x + w]
    if part.size == 0:
        raise ConfigError(f"osd_crop {list(crop)} lies outside the {image.shape[1]}x{image.shape[0]} frame")
    grey = cv2.cvtColor(np.ascontiguousarray(part), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if np.count_nonzero(binary) < binary.size / 2:  # mostly dark: light text on a dark ground
        binary = 255 - binary
    return cv2.copyMakeBorder(binary, 10, 10, 10, 10, cv2.BORDER_CONSTANT, value=255)


def ocr_line(image: np.ndarray) -> str:
    """One line of text from a prepared (grey) image."""
    exe = tesseract_path()
    if exe is None:
        raise ConfigError("tesseract is not installed (apt-get install tesseract-ocr): "
                          "on-screen clocks cannot be read")
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("cannot encode the OSD crop")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run([exe, "stdin", "stdout", "--psm", "7", "-c",
                           f"tessedit_char_whitelist={WHITELIST}"],
                          input=png.tobytes(), capture_output=True, timeout=TIMEOUT_S, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tesseract failed: {done.stderr.decode(errors='replace').strip()[:200]}")
    return done.stdout.decode(errors="replace").strip()


def parse_stamp(text: str, tz: tzinfo) -> datetime | None:
    """'2026-11-20 10:00:05' (or with the space dropped, or other separators) -> aware datetime."""
    digits = re.sub(r"\D", "", text)
    if len(digits) != 14:
        return None
    try:
        return datetime(int(digits[:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]),
                        int(digits[10:12]), int(digits[12:14]), tzinfo=tz)
    except ValueError:
        return None


def read_osd(image: np.ndarray, crop: tuple[int, int, int, int], tz: tzinfo) -> datetime | None:
    """The time a frame's on-screen clock shows, or None when it cannot be read."""
    return parse_stamp(ocr_line(_prepare(image, crop)), tz)


@dataclass(frozen=True)
class OsdReading:
    t: datetime  # the frame's time on the segment timeline
    osd: datetime | None  # what the overlay shows (None: unreadable)

    @property
    def difference_s(self) -> float | None:
        return None if self.osd is None else (self.osd - self.t).total_seconds()


@dataclass(frozen=True)
class OsdCheck:
    """One segment: OSD minus segment timeline over a few frames."""

    uri: str
    readings: tuple[OsdReading, ...]
    tolerance_s: float
    problem: str | None = None

    @property
    def difference_s(self) -> float | None:
        diffs = [r.difference_s for r in self.readings if r.difference_s is not None]
        return round(statistics.median(diffs), 1) if diffs else None

    @property
    def agrees(self) -> bool | None:
        d = self.difference_s
        return None if d is None else abs(d) <= self.tolerance_s

    def to_json(self) -> dict:
        return {"segment": self.uri, "osd_minus_timeline_s": self.difference_s, "agrees": self.agrees,
                "frames_read": sum(r.osd is not None for r in self.readings),
                "frames_tried": len(self.readings), "problem": self.problem}


def check_segment(store: VideoStore, segment: Segment, crop: tuple[int, int, int, int], *,
                  frames: int = 3, tolerance_s: float = 1.5) -> OsdCheck:
    """Read the overlay on ``frames`` keyframes spread over the segment; the overlay's 1 s
    resolution and the frame timing make ``tolerance_s`` the smallest meaningful disagreement."""
    tz = segment.start.tzinfo
    picked: list[tuple[datetime, np.ndarray]] = []
    try:
        with read_segment(store, segment, segment.start.timestamp(), keyframes_only=True) as reader:
            keyframes = [(abs_t, frame) for abs_t, _, frame in reader.frames]
            if keyframes:
                step = max(1, len(keyframes) // frames)
                for abs_t, frame in keyframes[::step][:frames]:
                    picked.append((datetime.fromtimestamp(abs_t, tz), frame.to_ndarray(format="rgb24")))
    except Exception as exc:  # noqa: BLE001 - an unreadable segment is reported, not fatal
        return OsdCheck(segment.uri, (), tolerance_s, f"unreadable ({exc})")
    if not picked:
        return OsdCheck(segment.uri, (), tolerance_s, "no frames")
    readings = tuple(OsdReading(t, read_osd(image, crop, tz)) for t, image in picked)
    problem = None if any(r.osd is not None for r in readings) else "on-screen clock unreadable"
    return OsdCheck(segment.uri, readings, tolerance_s, problem)
