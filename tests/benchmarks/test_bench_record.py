"""rxaudit bench-record on two RTSP test cameras for half a minute: its figures are real
(segments decoded, camera 0 pulled and back), and the recorder meets them at this small scale."""

from __future__ import annotations

import pytest

from recorder import fake_camera


def test_bench_record_small(tmp_path):
    if why := fake_camera.missing():
        pytest.skip(f"RTSP test cameras cannot run here: {why}")
    from benchmarks.record import run

    figures = run(2, 0.5, (640, 360), 10, 5.0, outage_s=5.0, warmup_s=5.0, work=tmp_path)
    assert figures["recorder_exit"] == 0
    assert figures["segments_corrupt"] == 0
    assert figures["segments_written"] == figures["segments_expected_about"] > 0
    assert figures["inner_segments"] > 0 and figures["inner_segments_off_by_more_than_0_2s"] == 0
    assert figures["camera_back_to_recording_s"] is not None and figures["camera_back_to_recording_s"] <= 15
    assert 0 < figures["cpu_share_of_one_core_per_camera"] < 0.5 and figures["peak_rss_mb"] > 20
