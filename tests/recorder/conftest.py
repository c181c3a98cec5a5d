"""Test cameras: real RTSP servers (GStreamer's, in the system Python) serving sample counter
footage, copied back to back into long files without re-encoding. Skipped, saying why, where the
GStreamer packages are absent; in CI (which installs them, .ci/run) their absence fails."""

from __future__ import annotations

import os
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import pytest

from recorder import fake_camera
from recorder.fake_camera import RtspCamera, back_to_back, counter_footage
from recorder.sources import Camera

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="session")
def rtsp_available():
    why = fake_camera.missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"RTSP test cameras cannot run in CI: {why}")
        pytest.skip(f"RTSP test cameras cannot run here: {why}")


@pytest.fixture(scope="session")
def footage(tmp_path_factory, rtsp_available) -> dict[str, Path]:
    """``long``: 3 minutes of 640x360 10 fps counter footage; ``small``: the same at 320x180."""
    folder = tmp_path_factory.mktemp("footage")
    clip = counter_footage(folder / "clip.mp4", 20)
    small = counter_footage(folder / "small.mp4", 20, size=(320, 180))
    return {"long": back_to_back(clip, folder / "long.mp4", 9),
            "small": back_to_back(small, folder / "small-long.mp4", 9)}


@pytest.fixture
def cameras_up(footage):
    """Start RTSP cameras: ``cameras_up({"cam0": path}, port=None)``; all killed at the end."""
    started: list[RtspCamera] = []

    def start(mounts: dict[str, Path] | None = None, port: int | None = None) -> RtspCamera:
        camera = RtspCamera(mounts or {"cam0": footage["long"]}, port).start()
        started.append(camera)
        return camera

    yield start
    for camera in started:
        camera.kill()


def camera(url: str, pharmacy: str = "P1", counter: str = "C1") -> Camera:
    return Camera(pharmacy, counter, url, TZ)


def segments(root: Path, pharmacy: str = "P1", counter: str = "C1") -> list[Path]:
    folder = root / pharmacy / counter
    return sorted(folder.glob("*.mp4")) if folder.is_dir() else []


def probe(path: Path) -> tuple[float, int, int, int]:
    """(duration s, frames decoded, width, height): decodes every frame (a broken file raises)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = 0
        first = last = None
        for frame in container.decode(stream):
            frames += 1
            first = frame.time if first is None else first
            last = frame.time
            width, height = frame.width, frame.height
        step = float(1 / stream.average_rate) if stream.average_rate else 0.0
        return (last - first + step if frames else 0.0), frames, width, height


def wait_for(predicate, timeout: float, step: float = 0.25):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()
