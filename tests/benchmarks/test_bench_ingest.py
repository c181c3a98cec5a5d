"""``rxaudit bench-ingest`` on a small load, on SQLite and PostgreSQL: a real server subprocess on
loopback, every settlement stored once, the replayed batch changing nothing."""

from __future__ import annotations

import json

import pytest

from benchmarks.ingest import records
from cli.main import main


@pytest.mark.parametrize("gzip", [False, True], ids=["json", "gzip"])
def test_bench_ingest_small_load(db_url, tmp_path, capsys, gzip):
    out = tmp_path / "ingest.json"
    code = main(["bench-ingest", "--settlements", "1000", "--batch", "250", "--clients", "2", "--db", db_url,
                 "--json", str(out), *(["--gzip"] if gzip else [])])
    text = capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert figures["settlements"] == 1000 and figures["rows_in_inbox"] == 1000, text
    assert figures["failed_requests"] == 0 and figures["replay_changed_nothing"] and not figures["server_errors_logged"]
    assert figures["gzip"] is gzip and (figures["request_mb"] < figures["json_mb"]) is gzip
    assert figures["settlements_per_s"] > 0 and figures["server_cpu_s"] > 0
    assert "target" in text and code in (0, 1)  # the target itself is for the full run, not this machine's load


def test_bench_records_are_valid_and_unique():
    made = records(300, "X-")
    assert len({r["settlement_id"] for r in made}) == 300
    assert {len(r["items"]) for r in made} == {1, 2, 3}
