"""Evidence clips: the window around a swipe, cut from the store's segments and re-encoded as
H.264 MP4 (faststart) so every browser plays it, whatever the camera recorded (H.265 included)."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av

from ingest.video_store import VideoStore, candidates
from vision.sampler import read_segment
from rxaudit.domain import Segment
from rxaudit.errors import FootageMissing


def cut_clip(store: VideoStore, segments: list[Segment], start: datetime, end: datetime,
             out: Path, *, max_fps: float = 15.0) -> tuple[float, float]:
    """Write ``out``; returns (epoch seconds of its first frame, duration in seconds). Raises
    FootageMissing if no frame of the window can be read. The clip is written to a temporary file
    of its own and renamed into place, so concurrent cuts of one clip never see each other's half
    (readers find the whole old file, the whole new one, or none)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".part.mp4")
    os.close(fd)
    tmp = Path(name)
    try:
        first_t, last_t, written = _encode(store, segments, start, end, tmp, max_fps)
        if not written:
            raise FootageMissing("no readable frame in the clip window")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return float(first_t or 0.0), (last_t or 0.0) - (first_t or 0.0)


def _encode(store: VideoStore, segments: list[Segment], start: datetime, end: datetime, tmp: Path,
            max_fps: float) -> tuple[float | None, float | None, int]:
    written, first_t, last_t = 0, None, None
    with av.open(str(tmp), "w", format="mp4", container_options={"movflags": "+faststart"}) as sink:
        stream = None
        for segment in candidates(segments, start, end):
            try:
                with read_segment(store, segment, start.timestamp()) as reader:
                    fps = min(reader.rate, max_fps)
                    step = 1.0 / fps
                    for t, _, frame in reader.frames:
                        if t < start.timestamp() or (last_t is not None and t < last_t + step - 1e-3):
                            continue
                        if t > end.timestamp():
                            break
                        if stream is None:
                            stream = sink.add_stream("libx264", rate=round(fps))
                            stream.width, stream.height = frame.width - frame.width % 2, frame.height - frame.height % 2
                            stream.pix_fmt = "yuv420p"
                            stream.options = {"preset": "veryfast", "crf": "26", "g": str(round(fps))}
                        image = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
                        image.pts = written
                        image.time_base = Fraction(1, round(fps))
                        for packet in stream.encode(image):
                            sink.mux(packet)
                        first_t = t if first_t is None else first_t
                        last_t = t
                        written += 1
            except Exception:  # noqa: BLE001 - an unreadable segment leaves a gap, as in sampling
                continue
        if stream is not None:
            for packet in stream.encode():
                sink.mux(packet)
    return first_t, last_t, written
