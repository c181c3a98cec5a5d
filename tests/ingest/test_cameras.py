from __future__ import annotations

from datetime import time

import pytest

from ingest.cameras import CamerasConfig, load_cameras
from rxaudit.errors import ConfigError
from tests.factories import T0


OFFSET = "pharmacies:\n  P1:\n    counters:\n      C1:\n        clock_offset_s: {}\n"


def write(tmp_path, text):
    path = tmp_path / "cameras.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_no_file():
    cams = load_cameras(None)
    assert cams.counter("X", "Y").clock_offset_s == 0
    assert cams.business_hours("X")[:2] == (time(8), time(21))


def test_counter_offset_is_applied_to_camera_time(tmp_path):
    cams = load_cameras(write(tmp_path, OFFSET.format("6.5")))
    assert (cams.camera_time("P1", "C1", T0) - T0).total_seconds() == 6.5
    assert cams.camera_time("P1", "C2", T0) == T0


@pytest.mark.parametrize("text, key", [
    ("pharmacies:\n  P1:\n    counters:\n      C1:\n        zoen: [[0,0],[1,0],[1,1]]\n", "zoen"),
    ("defaults:\n  busines_hours: '08:00-20:00'\n", "busines_hours"),
    ("pharmacies:\n  P1:\n    business_hours: 'all day'\n", "business_hours"),
    ("pharmacies:\n  P1:\n    timezone: Mars/Olympus\n", "timezone"),
    ("pharmacies:\n  P1:\n    counters:\n      C1:\n        zone: [[0,0],[2,0],[1,1]]\n", "zone"),
    ("camera: 1\n", "camera"),
    # clock offsets: finite and at most a day either way
    (OFFSET.format("1.0e+300"), "C1.clock_offset_s: Input should be less than or equal to 86400"),
    (OFFSET.format("-1.0e+300"), "C1.clock_offset_s: Input should be greater than or equal to -86400"),
    (OFFSET.format("1e300"), "C1.clock_offset_s: Input should be less than"),  # a string to YAML 1.1
    (OFFSET.format("86400.001"), "C1.clock_offset_s: Input should be less than"),
    (OFFSET.format(".inf"), "C1.clock_offset_s: Input should be a finite number"),
    (OFFSET.format("-.inf"), "C1.clock_offset_s: Input should be a finite number"),
    (OFFSET.format(".nan"), "C1.clock_offset_s: Input should be a finite number"),
])
def test_bad_key_or_value_names_it(tmp_path, text, key):
    with pytest.raises(ConfigError) as err:
        load_cameras(write(tmp_path, text))
    assert key in str(err.value)


@pytest.mark.parametrize("value, seconds", [("86400", 86400.0), ("-86400.0", -86400.0), ("-28800", -28800.0)])
def test_a_clock_offset_up_to_a_day_either_way_is_applied(tmp_path, value, seconds):
    cams = load_cameras(write(tmp_path, OFFSET.format(value)))
    assert (cams.camera_time("P1", "C1", T0) - T0).total_seconds() == seconds


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_cameras_file_in_chinese_encodings(tmp_path, encoding):
    path = tmp_path / "cameras.yaml"
    path.write_bytes("# 朝阳区 药店\npharmacies:\n  药店1:\n    counters:\n      C1:\n        clock_offset_s: 2\n"
                     .encode(encoding))
    assert load_cameras(path).counter("药店1", "C1").clock_offset_s == 2


def test_cameras_file_in_a_named_wrong_encoding_is_a_config_error(tmp_path):
    path = tmp_path / "cameras.yaml"
    path.write_bytes("pharmacies:\n  药店1: {}\n".encode("gb18030"))
    with pytest.raises(ConfigError, match="line 2 is not utf-8"):
        load_cameras(path, "utf-8")


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_an_empty_cameras_file_is_the_defaults(tmp_path, text):
    path = tmp_path / "cameras.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_cameras(path) == CamerasConfig()


DEFAULT_ZONES = ("defaults:\n  zone: [[0, 0], [0.6, 0], [0.6, 1], [0, 1]]\n"
                 "  goods_zone: [[0, 0.7], [1, 0.7], [1, 1], [0, 1]]\n"
                 "  display_zone: [[0.8, 0.8], [1, 0.8], [1, 1], [0.8, 1]]\n")


@pytest.mark.parametrize("counter, own", [
    ("        stream: rtsp://10.1.2.3:554/ch1\n", {}),  # listed for its stream only
    ("        clock_offset_s: 4\n", {}),
    ("        zone: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]\n", {"zone": ((0, 0), (0.5, 0), (0.5, 1), (0, 1))}),
    ("        display_zone: null\n", {"display_zone": None}),  # said: no display zone here
])
def test_a_listed_counter_takes_the_defaults_zones_it_does_not_name(tmp_path, counter, own):
    cams = load_cameras(write(tmp_path, DEFAULT_ZONES + "pharmacies:\n  P1:\n    counters:\n      C1:\n" + counter))
    listed, unlisted = cams.counter("P1", "C1"), cams.counter("P1", "C9")
    for name in ("zone", "goods_zone", "display_zone"):
        expected = own[name] if name in own else getattr(unlisted, name)
        assert getattr(listed, name) == (tuple(map(tuple, expected)) if expected else expected), name
    assert unlisted.zone == ((0, 0), (0.6, 0), (0.6, 1), (0, 1))
