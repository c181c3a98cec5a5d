"""``rxaudit bench-sse`` on a small load: a real server subprocess on loopback, every stream exact."""

from __future__ import annotations

import json

from cli.main import main


def test_bench_sse_small_load(tmp_path, capsys):
    out = tmp_path / "sse.json"
    code = main(["bench-sse", "--streams", "6", "--seconds", "2", "--flags", "20", "--new-flags", "7",
                 "--poll", "0.2", "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    figures = json.loads(out.read_text())
    assert figures["streams_open"] == 6 and figures["streams_exactly_once_in_order"] == 6
    assert figures["new_flags"] == 7 and figures["api_errors"] == 0
    assert "stats_p95_ms" in text and "target" in text
