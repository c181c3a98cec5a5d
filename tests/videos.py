"""Tiny encoded clips for tests: frame k carries k as a row of 8 black/white blocks (a barcode that
survives compression), so a decoded frame tells which source frame it was."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_clip(path: Path, seconds: float, fps: int = 10, codec: str = "libx264",
              size: tuple[int, int] = (160, 96), frames: list[np.ndarray] | None = None,
              gop: int | None = None) -> Path:
    """``gop``: frames between keyframes (default: one second)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    with av.open(str(path), "w", container_options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        fixed = gop is not None  # a keyframe every ``gop`` frames exactly (no scene-cut keyframes)
        gop = gop or fps
        stream.options = ({"g": str(gop), "crf": "10", **({"sc_threshold": "0"} if fixed else {})}
                          if codec == "libx264" else
                          {"x265-params": f"keyint={gop}:log-level=error" + (":scenecut=0" if fixed else ""),
                           "crf": "10"})
        images = frames or [barcode(k, width, height) for k in range(int(seconds * fps))]
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def barcode(k: int, width: int, height: int) -> np.ndarray:
    image = np.full((height, width, 3), 128, np.uint8)
    block = width // 8
    for bit in range(8):
        image[:, bit * block : (bit + 1) * block] = 255 if (k >> bit) & 1 else 0
    return image


def frame_index(image: np.ndarray) -> int:
    block = image.shape[1] // 8
    return sum(1 << bit for bit in range(8)
               if image[:, bit * block : (bit + 1) * block].mean() > 128)
