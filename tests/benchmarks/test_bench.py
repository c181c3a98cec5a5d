"""The benchmark's JSON contract (its numbers are for the note, not for assertions)."""

from __future__ import annotations

from datetime import timedelta

from ingest.video_store import segment_name
from benchmarks.audit import run_bench, scaled_log
from tests.factories import T0
from tests.audit.test_batch import person_frame
from tests.videos import make_clip


def test_bench_reports_both_configurations(tmp_path, monkeypatch):
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", "k" * 20)
    make_clip(tmp_path / "v" / "P1" / "C1" / segment_name(T0), 40, fps=10,
              frames=[person_frame(10 <= k / 10 < 30, k) for k in range(400)])
    (tmp_path / "s.csv").write_text("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
                                    f"S1,P1,C1,{(T0 + timedelta(seconds=20)).isoformat()},C1,1.00\n"
                                    f"S2,P1,C1,{(T0 + timedelta(seconds=35)).isoformat()},C2,1.00\n")
    result = run_bench(settlements_file=tmp_path / "s.csv", videos=str(tmp_path / "v"), cameras_file=None,
                       scales=(1, 3))
    for name in ("rxaudit", "naive"):
        assert set(result[name]) == {"cpu_s_per_settlement", "settlements_per_s", "peak_rss_mb"}
        assert result[name]["cpu_s_per_settlement"] > 0
    assert result["same_flags"] is True and result["flags"]["rxaudit"] == [["S2", "no_customer"]]
    assert result["ratio"] > 1
    for name in ("rxaudit", "naive"):  # the CPU split per stage, in the JSON and the printout
        split = result["details"][name]["cpu_split_per_settlement"]
        assert set(split) == {"decode", "person", "faces", "objects", "drawing", "other"}
        assert split["decode"] > 0 and split["person"] > 0
    assert result["memory"]["x3"]["settlements"] == 6


def test_scaled_log_repeats_with_new_ids(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\nS1,P,C,t,CARD,1\n")
    lines = scaled_log(src, 3, tmp_path / "x.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["S1", "S1-1", "S1-2"]
    assert len({line.split(",")[4] for line in lines[1:]}) == 3
