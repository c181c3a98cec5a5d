"""A test camera: GStreamer's RTSP server serving H.264 MP4 files without re-encoding.

Run with the system Python (/usr/bin/python3: the only one where Debian's ``gi`` imports), never
imported by rxaudit:

    /usr/bin/python3 recorder/rtsp_server.py --port 0 --mount cam0=/path/a.mp4 --mount cam1=/path/b.h265.mp4
                                             [--clock-offset 37.5]

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


def skewed_clock(Gst, offset_s: float):
    """A camera whose clock is ``offset_s`` ahead: the pipeline's clock is the real-time clock
    calibrated by the offset (and to the NTP era), and RTP sessions stamp their sender reports with
    it (ntp-time-source clock-time) instead of the machine's clock. Playback is unchanged (a
    constant offset cancels out of running time)."""
    clock = Gst.SystemClock(clock_type=Gst.ClockType.REALTIME)
    internal = clock.get_internal_time()
    clock.set_calibration(internal, internal + int(round((offset_s + 2208988800) * 1e9)), 1, 1)

    def added(_bin, _sub, element) -> None:
        factory = element.get_factory()
        if factory is not None and factory.get_name() in ("rtpbin", "rtpsession"):
            element.set_property("ntp-time-source", 3)  # GST_RTP_NTP_TIME_SOURCE_CLOCK_TIME

    def configure(_factory, media) -> None:
        media.set_clock(clock)
        media.get_element().get_parent().connect("deep-element-added", added)

    return configure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--mount", action="append", default=[], help="NAME=FILE.mp4 (H.264; *.h265.mp4: H.265)")
    parser.add_argument("--clock-offset", dest="clock_offset", type=float,
                        help="seconds the camera's own clock (its RTCP sender reports) is ahead of this machine's")
    args = parser.parse_args()

    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    configure = skewed_clock(Gst, args.clock_offset) if args.clock_offset is not None else None
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
        if configure is not None:
            factory.connect("media-configure", configure)
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
