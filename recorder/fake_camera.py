"""Test cameras: real RTSP servers (GStreamer's, run by the system Python, which alone has ``gi``)
serving sample counter footage without re-encoding, and a camera that accepts and never answers.
Used by the tests and by ``rxaudit bench-record``."""

from __future__ import annotations

import random
import socket
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_server.py")
PACKAGES = ("gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-good "
            "gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav")


def missing() -> str | None:
    """Why no RTSP test camera can run here, or None."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is missing"
    probe = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
             "assert Gst.ElementFactory.find('rtph264pay') and Gst.ElementFactory.find('h264parse') "
             "and Gst.ElementFactory.find('qtdemux')")
    done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return f"GStreamer RTSP server not installed (apt-get install {PACKAGES})"
    return None


def counter_footage(path: Path, seconds: float, fps: int = 10, size: tuple[int, int] | None = None,
                    seed: int = 1, covered: tuple[float, float] | None = None, codec: str = "libx264") -> Path:
    """Sample counter footage (the sample bundle's renderer: a cashier, a customer coming and
    going, the on-screen clock) at 640x360 or scaled to ``size``, H.264 as a camera sends it: a
    keyframe every second exactly (no scene-cut keyframes). ``covered``: seconds (from, to) when
    the lens is covered (black). ``codec`` libx265: H.265 (name the file ``*.h265.mp4`` for the
    test camera)."""
    import cv2

    from sample_footage.scene import HEIGHT, WIDTH, Appearance, Backdrop, render

    path.parent.mkdir(parents=True, exist_ok=True)
    start = 1_800_000_000.0
    people = [Appearance("cashier", -1e5, 1e5, 565, depth=0.3),
              Appearance("male", 2.0, max(3.0, seconds - 2.0), 200)]
    backdrop = Backdrop(random.Random(seed))
    width, height = size or (WIDTH, HEIGHT)
    with av.open(str(path), "w", container_options={"movflags": "+faststart"}) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = ({"g": str(fps), "sc_threshold": "0", "preset": "veryfast", "crf": "27"}
                          if codec == "libx264" else
                          {"preset": "ultrafast", "crf": "30",
                           "x265-params": f"keyint={fps}:min-keyint={fps}:scenecut=0:log-level=error"})
        for k in range(int(round(seconds * fps))):
            t = k / fps
            image = render(backdrop, people, t, fps, datetime.fromtimestamp(start + t, UTC), ())
            if covered is not None and covered[0] <= t < covered[1]:
                image = np.zeros_like(image)
            if (width, height) != (WIDTH, HEIGHT):
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def back_to_back(source: Path, path: Path, repeats: int) -> Path:
    """``repeats`` copies of an H.264 MP4 one after the other in one file, copied (no re-encoding):
    a long camera from a short clip."""
    with av.open(str(source)) as src, av.open(str(path), "w", format="mp4") as out:
        template = src.streams.video[0]
        stream = out.add_stream_from_template(template)
        packets = [p for p in src.demux(template) if p.dts is not None]
        first = min(p.pts for p in packets)  # the first frame shown (dts may start before it)
        span = max(p.pts + (p.duration or 0) for p in packets) - first
        for k in range(repeats):
            for p in packets:
                copy = av.Packet(bytes(p))
                copy.pts, copy.dts = p.pts - first + k * span, p.dts - first + k * span
                copy.duration, copy.time_base, copy.is_keyframe = p.duration, p.time_base, p.is_keyframe
                copy.stream = stream
                out.mux(copy)
    return path


def _drain(pipe) -> None:
    try:
        for _ in pipe:
            pass
    except (OSError, ValueError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RtspCamera:
    """One GStreamer RTSP server process; ``mounts`` name -> MP4. ``kill()`` is a camera pulled
    from the wall; ``start()`` again (same port) brings it back."""

    def __init__(self, mounts: dict[str, Path], port: int | None = None, clock_offset_s: float | None = None) -> None:
        self.mounts, self.port = dict(mounts), port or free_port()
        self.clock_offset_s = clock_offset_s  # its own clock (RTCP sender reports) ahead of this machine's
        self.process: subprocess.Popen | None = None

    def url(self, name: str | None = None) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{name or next(iter(self.mounts))}"

    def start(self, timeout: float = 20.0) -> RtspCamera:
        args = [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port)]
        for name, path in self.mounts.items():
            args += ["--mount", f"{name}={path}"]
        if self.clock_offset_s is not None:
            args += ["--clock-offset", str(self.clock_offset_s)]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("port "):
            self.kill()
            raise RuntimeError(f"RTSP test camera did not start on port {self.port}")
        for pipe in (self.process.stdout, self.process.stderr):  # read to the end: a full pipe would block it
            threading.Thread(target=_drain, args=(pipe,), daemon=True).start()
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def __enter__(self) -> RtspCamera:
        return self.start() if self.process is None else self

    def __exit__(self, *exc) -> None:
        self.kill()


class SilentCamera:
    """Accepts connections and never says a word (a hung camera or NVR)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()

