"""Face settings: the encoder picks its measured threshold unless one is set; bad values are named."""

from __future__ import annotations

import pytest

from rxaudit.errors import ConfigError
from rxaudit.settings import ENCODER_THRESHOLDS, load_settings


@pytest.mark.parametrize("yaml_text, encoder, threshold", [
    ("", "sface", ENCODER_THRESHOLDS["sface"]),
    ("face_encoder: dlib\n", "dlib", ENCODER_THRESHOLDS["dlib"]),
    ("face_encoder: dlib\nface_distance_threshold: 0.4\n", "dlib", 0.4),
    ("face_distance_threshold: 1.1\n", "sface", 1.1),
])
def test_threshold_follows_the_encoder_unless_set(tmp_path, yaml_text, encoder, threshold):
    config = tmp_path / "c.yaml"
    config.write_text(yaml_text)
    settings = load_settings(config)
    assert (settings.face_encoder, settings.face_distance_threshold) == (encoder, threshold)


def test_environment_picks_the_encoder(monkeypatch):
    monkeypatch.setenv("RXAUDIT_FACE_ENCODER", "dlib")
    assert load_settings().face_distance_threshold == ENCODER_THRESHOLDS["dlib"]


@pytest.mark.parametrize("key, value", [("face_encoder", "arcface"), ("face_detector", "cnn"),
                                        ("face_distance_threshold", 2.5), ("face_min_score", 1.5)])
def test_bad_face_values_are_named(key, value):
    with pytest.raises(ConfigError, match=key):
        load_settings(**{key: value})
