"""Times in input files: with an offset as written, local ones in the configured zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.reasons import RowError
from ingest.settlements import IngestOptions, read_settlements
from ingest.times import parse_time, zone

SHANGHAI = zone("Asia/Shanghai")
LOCAL = datetime(2026, 11, 20, 10, 0, 13, tzinfo=SHANGHAI)


@pytest.mark.parametrize("raw, expected", [
    ("2026-11-20T10:00:13+08:00", LOCAL),
    ("2026-11-20T02:00:13Z", LOCAL),
    ("2026-11-20 10:00:13", LOCAL),             # a HIS export: local time, no offset
    ("2026/11/20 10:00:13", LOCAL),             # slashes
    ("2026/1/5 10:00:13", datetime(2026, 1, 5, 10, 0, 13, tzinfo=SHANGHAI)),
    ("20261120100013", LOCAL),                  # packed digits
    (" 2026-11-20 10:00:13 ", LOCAL),
    ("2026-11-20T10:00:13-05:00", datetime(2026, 11, 20, 15, 0, 13, tzinfo=UTC)),
])
def test_times_read_as_written_or_in_the_local_zone(raw, expected):
    value = parse_time(raw, "settled_at", SHANGHAI)
    assert value == expected and value.utcoffset() is not None


@pytest.mark.parametrize("raw, reason", [
    ("yesterday", "settled_at 'xxxxxxxxx' is not ISO 8601"),
    ("2026-13-20 10:00:13", "is not ISO 8601"),
    ("2026/11/20 25:00", "is not ISO 8601"),
    ("202611201000", "is not ISO 8601"),
    ("", "is not ISO 8601"),
])
def test_what_is_not_a_time_is_rejected_naming_the_column(raw, reason):
    with pytest.raises(RowError, match=reason):
        parse_time(raw, "settled_at", SHANGHAI)


def test_without_a_local_zone_a_time_without_offset_is_rejected():
    with pytest.raises(RowError, match="settled_at '9999-99-99 99:99:99' has no UTC offset"):
        parse_time("2026-11-20 10:00:13", "settled_at", None)
    assert parse_time("2026-11-20T10:00:13+08:00", "settled_at", None) == LOCAL


def test_the_zone_is_a_setting_and_an_unknown_one_names_the_key(make_settings):
    from rxaudit.errors import ConfigError

    assert make_settings().input_timezone == "Asia/Shanghai"
    assert make_settings(input_timezone="").input_timezone is None
    with pytest.raises(ConfigError, match="input_timezone: .*Mars/Olympus"):
        make_settings(input_timezone="Mars/Olympus")


def test_a_log_in_local_time_audits_at_the_same_instants(tmp_path, make_settings):
    header = "settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
    path = tmp_path / "settlements.csv"
    path.write_text(header + "S1,PH1,C1,2026/11/20 10:00:13,1234,1.00\n", encoding="utf-8")
    (s,) = read_settlements(path, b"k" * 32).settlements
    assert s.settled_at == LOCAL
    utc = IngestOptions.from_settings(make_settings(input_timezone="UTC"))
    (s,) = read_settlements(path, b"k" * 32, options=utc).settlements
    assert s.settled_at == LOCAL + timedelta(hours=8)
    strict = IngestOptions(input_timezone=None)
    log = read_settlements(path, b"k" * 32, options=strict)
    assert not log.settlements and "no UTC offset" in log.rejected[0].reason and log.rows_read == 1
