"""``rxaudit bench-log`` at a small N: the command runs end to end and reports every figure."""

from __future__ import annotations

import csv
import json

from benchmarks.log import api_paths, generate_log
from cli.main import main


def test_the_synthetic_log_is_deterministic_and_realistic(tmp_path):
    a, b = tmp_path / "a" / "settlements.csv", tmp_path / "b" / "settlements.csv"
    a.parent.mkdir()
    b.parent.mkdir()
    planted = generate_log(a, 3000, seed=3)
    generate_log(b, 3000, seed=3)
    assert a.read_bytes() == b.read_bytes()
    with a.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3000 and planted["bursts"] > 0 and planted["duplicates"] > 0
    assert [r["settled_at"] for r in rows] == sorted(r["settled_at"] for r in rows)  # time order
    cards = [r["card_id"] for r in rows]
    assert len(set(cards)) < len(cards)  # cards come back
    assert len({r["pharmacy_id"] for r in rows}) > 300
    assert (tmp_path / "a" / "pharmacies.csv").exists()


def test_bench_log_command_reports_audit_and_api_figures(tmp_path, capsys):
    out = tmp_path / "bench-log.json"
    assert main(["bench-log", "--rows", "400", "--repeats", "2", "--workdir", str(tmp_path / "w"),
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    audit = result["audit"]
    assert audit["summary"]["audited"] == 400 and audit["summary"]["unverifiable"] == 400
    assert audit["peak_rss_mb"] > 0 and audit["wall_s"] > 0 and audit["rows_per_s"] > 0
    assert set(result["api"]) == set(api_paths("D03"))
    assert result["api"]["flags_first_page"]["n"] == sum(audit["summary"]["flags_by_kind"].values())
    for figures in result["api"].values():
        assert figures["p95_ms"] >= figures["p50_ms"] > 0 and figures["cold_ms"] > 0
    printed = capsys.readouterr().out
    assert "peak RSS" in printed and "footfall" in printed
