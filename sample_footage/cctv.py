"""What a CCTV recorder does to pixels: H.264 at the camera's size, as the sample bundles and most
pharmacy recorders store it (``libx264``, ``crf`` 27 by default, like ``sample_footage.generator``).

``h264_roundtrip`` encodes RGB frames as one stream in memory and decodes them back: the frames come
back with the codec's blocking, ringing and smeared colour edges. One thread, so the same frames give
the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

DEFAULT_CRF = 27


def h264_roundtrip(frames: Sequence[np.ndarray], *, crf: int = DEFAULT_CRF, gop: int = 10,
                   fps: int = 10) -> list[np.ndarray]:
    """The frames (RGB uint8, all one even size) after H.264 encoding and decoding."""
    import av

    if not frames:
        return []
    h, w = frames[0].shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 (yuv420p) needs an even frame size, got {w}x{h}")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as sink:
        stream = sink.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "g": str(gop), "threads": "1"}
        stream.codec_context.time_base = Fraction(1, fps)
        for k, frame in enumerate(frames):
            if frame.shape[:2] != (h, w):
                raise ValueError(f"frame {k} is {frame.shape[1]}x{frame.shape[0]}, not {w}x{h}")
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts = k
            for packet in stream.encode(vf):
                sink.mux(packet)
        for packet in stream.encode():
            sink.mux(packet)
    buf.seek(0)
    with av.open(buf, "r") as source:
        out = [f.to_ndarray(format="rgb24") for f in source.decode(video=0)]
    if len(out) != len(frames):
        raise ValueError(f"H.264 round trip returned {len(out)} frames for {len(frames)}")
    return out
