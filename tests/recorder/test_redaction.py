"""A camera's password never reaches a log line, an error, the database or the API, even when
FFmpeg's own error quotes the URL it was given."""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from database.engine import make_engine, migrate, session_factory
from database.models import CameraGapRow, CameraHealthRow
from recorder.fake_camera import free_port
from recorder.reader import RecorderOptions
from recorder.sources import Camera
from recorder.supervisor import Recorder
from tests.recorder.conftest import wait_for

SECRET = "S3cr#t/p@ss"


def test_password_never_leaves_the_reader(tmp_path, caplog):
    engine = make_engine(f"sqlite:///{tmp_path}/rec.db")
    migrate(engine)
    factory = session_factory(engine)
    quoted = "S3cr%23t%2Fp%40ss"
    url = f"rtsp://admin:{quoted}@127.0.0.1:{free_port()}/Streaming/Channels/102"  # nobody listens
    cam = Camera("P1", "C1", url, ZoneInfo("Asia/Shanghai"), (SECRET, quoted))
    recorder = Recorder([cam], tmp_path / "store", RecorderOptions(open_s=2, stall_s=2, backoff_min_s=0.2,
                                                                    backoff_max_s=0.5, health_every_s=0.2), factory)
    caplog.set_level(logging.DEBUG)
    recorder.start()
    try:
        assert wait_for(lambda: recorder.readers["P1/C1"].sessions >= 3, 15)
        time.sleep(0.5)
    finally:
        recorder.stop()
    with factory() as session:
        health = session.scalars(select(CameraHealthRow)).one()
        gap = session.scalars(select(CameraGapRow)).one()
    shown = [health.stream, health.detail or "", gap.reason, caplog.text, repr(cam), repr(recorder.snapshots())]
    assert health.stream == "rtsp://admin:***@127.0.0.1:" + url.split("@127.0.0.1:")[1]
    assert "Connection refused" in health.detail
    for text in shown:
        assert SECRET not in text and quoted not in text and "S3cr" not in text, text
