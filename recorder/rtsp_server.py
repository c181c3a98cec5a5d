"""A test camera: GStreamer's RTSP server serving H.264 MP4 files without re-encoding.

Run with the system Python (/usr/bin/python3: the only one where Debian's ``gi`` imports), never
imported by rxaudit:

    /usr/bin/python3 recorder/rtsp_server.py --port 0 --mount cam0=/path/a.mp4 --mount cam1=/path/b.h265.mp4

Prints ``port N`` once it listens, then serves ``rtsp://127.0.0.1:N/cam0`` ... until killed. Each
mount plays its file once, in real time, shared by every client (as a camera serves one stream).
Needs gir1.2-gst-rtsp-server-1.0, python3-gst-1.0 and gstreamer1.0-plugins-{good,bad}.
"""

import argparse
import signal
import sys


def launch_line(path: str) -> str:
    """H.264, or H.265 for a file named ``*.h265.mp4``."""
    quoted = path.replace("\\", "\\\\").replace('"', '\\"')
    codec = "h265" if path.endswith(".h265.mp4") else "h264"
    return (f'( filesrc location="{quoted}" ! qtdemux ! {codec}parse config-interval=-1 '
            f'! rtp{codec}pay name=pay0 pt=96 )')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--mount", action="append", default=[], help="NAME=FILE.mp4 (H.264; *.h265.mp4: H.265)")
    args = parser.parse_args()

    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for spec in args.mount:
        name, _, path = spec.partition("=")
        if not name or not path:
            parser.error(f"--mount {spec!r}: NAME=FILE")
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(path))
        factory.set_shared(True)
        mounts.add_factory("/" + name, factory)
    if server.attach(None) == 0:
        print("error: cannot listen", file=sys.stderr, flush=True)
        return 1
    print(f"port {server.get_bound_port()}", flush=True)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
