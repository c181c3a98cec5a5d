from __future__ import annotations

import pytest

from rxaudit.cards import hash_card
from rxaudit.errors import EXIT_CODES, HTTP_STATUS, ConfigError, FootageMissing, NotFound, lookup
from rxaudit.settings import load_settings


def test_unknown_key_in_yaml_is_named(tmp_path):
    path = tmp_path / "rx.yaml"
    path.write_text("sample_fps: 2\nsampel_fps: 3\n")
    with pytest.raises(ConfigError, match="sampel_fps: unknown key"):
        load_settings(path)


def test_bad_value_is_named():
    with pytest.raises(ConfigError, match="sample_fps"):
        load_settings(sample_fps=-1)


def test_environment_is_read(monkeypatch):
    monkeypatch.setenv("RXAUDIT_SAMPLE_FPS", "3")
    assert load_settings().sample_fps == 3


def test_card_key_is_required_and_never_printed():
    settings = load_settings()
    with pytest.raises(ConfigError, match="RXAUDIT_CARD_HASH_KEY"):
        settings.require_card_key()
    secret = "a-very-secret-key-123"
    assert secret not in repr(load_settings(card_hash_key=secret))


def test_card_hash_is_keyed_and_normalised():
    a = hash_card("1101 0119 9001", b"key-one-0123456789")
    assert a == hash_card("110101199001", b"key-one-0123456789")
    assert a != hash_card("110101199001", b"key-two-0123456789")
    with pytest.raises(ValueError):
        hash_card("  ", b"k")


def test_error_tables_walk_the_class_tree():
    assert lookup(HTTP_STATUS, FootageMissing("x"), 500) == 404
    assert lookup(HTTP_STATUS, NotFound("x"), 500) == 404
    assert lookup(EXIT_CODES, ConfigError("x"), 1) == 3


@pytest.mark.parametrize("value, ok", [(0, True), (4096, True), (100_000, True), (-1, False), (100_001, False)])
def test_the_live_memo_is_bounded(value, ok):
    if ok:
        assert load_settings(live_memo_frames=value).live_memo_frames == value
    else:
        with pytest.raises(ConfigError, match="live_memo_frames"):
            load_settings(live_memo_frames=value)
