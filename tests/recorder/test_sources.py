"""cameras.yaml's stream: and credentials: — passwords from the environment or a secrets file,
never from the YAML, never shown (errors, logs, the database: rtsp://user:***@...)."""

from __future__ import annotations

import pytest

from ingest.cameras import load_cameras
from recorder.sources import Camera, cameras_from_config, load_secrets, parse_shard, redact, shard
from rxaudit.errors import ConfigError

YAML = """pharmacies:
  P1:
    timezone: Asia/Urumqi
    counters:
      C1: {{stream: "{url}", credentials: NVR_P1}}
      C2: {{stream: "http://zlm.example:80/live/p1c2.flv"}}
      C3: {{clock_offset_s: 1}}
"""


def write(tmp_path, text, name="cameras.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_credentials_from_the_environment(tmp_path):
    config = load_cameras(write(tmp_path, YAML.format(url="rtsp://10.1.2.3:554/Streaming/Channels/102")))
    cams = cameras_from_config(config, environ={"RXAUDIT_CAMERA_NVR_P1": "admin:p@ss/w:rd"})
    assert [c.key for c in cams] == ["P1/C1", "P1/C2"]  # C3 has no stream
    c1 = cams[0]
    assert c1.url == "rtsp://admin:p%40ss%2Fw%3Ard@10.1.2.3:554/Streaming/Channels/102"
    assert c1.shown == "rtsp://admin:***@10.1.2.3:554/Streaming/Channels/102"
    assert "p@ss" not in repr(c1) and "p%40ss" not in repr(c1)
    assert str(c1.timezone) == "Asia/Urumqi"
    error = f"[Errno 5] I/O error: '{c1.url}' (password p@ss/w:rd)"
    assert c1.scrub(error) == f"[Errno 5] I/O error: '{c1.shown}' (password ***)"


def test_credentials_from_the_secrets_file_and_the_environment_wins(tmp_path):
    config = load_cameras(write(tmp_path, YAML.format(url="rtsp://cam.local/ch1")))
    secrets = load_secrets(write(tmp_path, "NVR_P1: 'viewer:s3cret'\n", "secrets.yaml"))
    assert cameras_from_config(config, secrets, environ={})[0].url == "rtsp://viewer:s3cret@cam.local/ch1"
    env = {"RXAUDIT_CAMERA_NVR_P1": "admin:other"}
    assert cameras_from_config(config, secrets, environ=env)[0].url == "rtsp://admin:other@cam.local/ch1"


def test_missing_credentials_name_the_counter_and_the_variable(tmp_path):
    config = load_cameras(write(tmp_path, YAML.format(url="rtsp://cam.local/ch1")))
    with pytest.raises(ConfigError, match=r"pharmacies\.P1\.counters\.C1: credentials NVR_P1: set RXAUDIT_CAMERA_NVR_P1"):
        cameras_from_config(config, {}, environ={})


@pytest.mark.parametrize("url, message", [
    ("rtsp://admin:hunter2@10.1.2.3/ch1", "must not carry credentials"),
    ("rtsp://admin@10.1.2.3/ch1", "must not carry credentials"),
    ("ftp://10.1.2.3/ch1", "scheme rtsp, rtsps, http, https"),
    ("rtsp:///ch1", "needs a host"),
    ("10.1.2.3:554/ch1", "scheme"),
])
def test_bad_stream_names_the_key_never_the_value(tmp_path, url, message):
    with pytest.raises(ConfigError) as caught:
        load_cameras(write(tmp_path, YAML.format(url=url)))
    text = str(caught.value)
    assert "pharmacies.P1.counters.C1.stream" in text and message in text
    assert "hunter2" not in text and url not in text


@pytest.mark.parametrize("extra, key", [("credentials: 'admin:pw'", "credentials"), ("streem: rtsp://x/1", "streem")])
def test_credentials_is_a_name_and_keys_are_strict(tmp_path, extra, key):
    text = f"pharmacies:\n  P1:\n    counters:\n      C1:\n        stream: rtsp://x/1\n        {extra}\n"
    with pytest.raises(ConfigError, match=rf"C1\.{key}"):
        load_cameras(write(tmp_path, text))


def test_secrets_file_errors_never_show_a_value(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_secrets(write(tmp_path, "NVR_P1: hunter2\n", "secrets.yaml"))
    assert "NVR_P1" in str(caught.value) and "hunter2" not in str(caught.value)


def test_redact():
    assert redact("rtsp://u:pw@h:554/x?y=1") == "rtsp://u:***@h:554/x?y=1"
    assert redact("rtsp://h/x") == "rtsp://h/x"


def test_shards_split_the_cameras_stably():
    cams = [Camera(f"P{i}", "C1", f"rtsp://h/{i}") for i in range(50)]
    parts = [shard(cams, i, 3) for i in (1, 2, 3)]
    assert sorted(c.key for part in parts for c in part) == sorted(c.key for c in cams)
    assert all(parts)
    more = cams + [Camera("P99", "C1", "rtsp://h/99")]
    assert [c.key for c in shard(more, 2, 3) if c.key != "P99/C1"] == [c.key for c in parts[1]]
    with pytest.raises(ConfigError):
        parse_shard("3/2")
    assert parse_shard("2/3") == (2, 3)
