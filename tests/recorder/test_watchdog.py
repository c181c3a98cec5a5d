"""The watchdog: a reader stuck where no timeout reaches (a driver call that never returns) is given
up and replaced; the replacement records, the stuck one never touches the store again."""

from __future__ import annotations

import threading

from recorder import reader as reader_module
from recorder.reader import RecorderOptions
from recorder.supervisor import Recorder
from tests.recorder.conftest import camera, probe, segments, wait_for


def test_a_stuck_reader_is_replaced(tmp_path, cameras_up, monkeypatch):
    cam = cameras_up()
    release = threading.Event()
    real_open = reader_module.CameraReader._open
    stuck = []

    def open_once_stuck(self):
        if not stuck:
            stuck.append(self)
            release.wait(60)  # hangs past every timeout, sending no heartbeat
        return real_open(self)

    monkeypatch.setattr(reader_module.CameraReader, "_open", open_once_stuck)
    options = RecorderOptions(segment_s=3, stall_s=2, open_s=2, backoff_min_s=0.5, backoff_max_s=1,
                              health_every_s=0.5, tamper=None)
    assert options.watchdog_s == 9
    root = tmp_path / "store"
    recorder = Recorder([camera(cam.url())], root, options)
    recorder.start()
    try:
        assert wait_for(lambda: recorder.replaced == 1, 15), "the watchdog replaced the stuck reader"
        assert stuck[0].abandoned and recorder.readers["P1/C1"] is not stuck[0]
        assert wait_for(lambda: len(segments(root)) >= 2, 20), "the replacement records"
        release.set()  # the stuck call returns at last: that reader must leave the store alone
        stuck[0].join(10)
        assert not stuck[0].is_alive()
    finally:
        release.set()
        recorder.stop()
    assert recorder.replaced == 1
    assert all(probe(p)[1] > 0 for p in segments(root))
