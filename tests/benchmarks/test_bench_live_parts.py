"""bench-live's parts: percentiles, a process tree's CPU, the replicas' renamed settlements (no pooled
card, no reused trace code across replicas) and the log the batch audit reads back."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.live_parts import _rename, deciding_swipes, pct, tree_cpu_s, write_log
from ingest.settlements import read_settlements

RECORD = {"settlement_id": "ST1", "pharmacy_id": "PH1", "counter_id": "C1", "settled_at": "2026-12-07T20:00:00.000+08:00",
          "card_id": "078666617603137215", "amount": "9.50", "operator": "OP1",
          "items": [{"item_code": "86900001", "item_name": "阿莫西林胶囊", "quantity": "1", "unit_price": "9.50",
                     "trace_codes": ["81274178413559544585"]}]}


def test_pct():
    assert pct([], 0.5) is None
    assert pct([3.0, 1.0, 2.0], 0.5) == 2.0 and pct([3.0, 1.0, 2.0], 1.0) == 3.0
    assert pct(list(map(float, range(1, 101))), 0.95) == 96.0


def test_a_flag_counts_from_the_check_that_saved_it():
    from datetime import datetime, timedelta

    t0 = datetime(2026, 12, 7, 12, 0, 0)
    done = [(t0 + timedelta(seconds=10), "S1"), (t0 + timedelta(seconds=50), "S2"), (t0 + timedelta(seconds=90), "S3")]
    first = {"S1": t0 + timedelta(seconds=9.9),   # its own check's flag
             "S0": t0 + timedelta(seconds=49),    # added to an earlier settlement by S2's check
             "S3": t0 + timedelta(seconds=90),    # saved in the same instant as "done"
             "S9": t0 + timedelta(seconds=95)}    # after every check: no decider known
    assert deciding_swipes(first, list(reversed(done))) == {"S1": "S1", "S0": "S2", "S3": "S3"}


def test_replicas_are_other_cards_and_codes():
    first, second = _rename(RECORD, "PH1R0", 0), _rename(RECORD, "PH1R1", 1)
    assert first["settlement_id"] == "ST1R0" and first["card_id"] == RECORD["card_id"]
    assert first["items"][0]["trace_codes"] == RECORD["items"][0]["trace_codes"]
    assert second["settlement_id"] == "ST1R1" and second["pharmacy_id"] == "PH1R1"
    assert second["card_id"] != RECORD["card_id"] and len(second["card_id"]) == len(RECORD["card_id"])
    assert second["items"][0]["trace_codes"][0] != RECORD["items"][0]["trace_codes"][0]
    assert RECORD["items"][0]["trace_codes"] == ["81274178413559544585"]  # the source untouched


def test_the_batch_log_reads_back(tmp_path):
    log = write_log(tmp_path, [_rename(RECORD, "PH1R1", 1)], [{"pharmacy_id": "PH1R1", "name": "P", "district": "D"}])
    read = read_settlements(log, b"k" * 16)
    assert not read.rejected and [s.settlement_id for s in read.settlements] == ["ST1R1"]
    assert len(read.settlements[0].items) == 1 and read.settlements[0].items[0].item_code == "86900001"
    assert "01274178413559544585" in (tmp_path / "settlement_items.csv").read_text(encoding="utf-8")


def test_tree_cpu_counts_children():
    code = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'x=0\\nfor i in range(10**7): x+=i'])"
    proc = subprocess.Popen([sys.executable, "-c", code + "; import time; time.sleep(5)"])
    try:
        time.sleep(0.3)
        deadline = time.monotonic() + 60
        while tree_cpu_s(proc.pid) < 0.4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert tree_cpu_s(proc.pid) >= 0.4  # the grandchild's loop, counted once it is reaped too
    finally:
        proc.kill()
        proc.wait()


def test_the_batch_gets_the_live_runs_camera_log(tmp_path):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from benchmarks.live_run import copy_camera_log
    from database.cameras import open_gap, open_tamper
    from database.engine import make_engine, migrate, session_factory, transaction
    from database.models import CameraGapRow, CameraTamperRow

    live, batch = f"sqlite:///{tmp_path}/live.db", f"sqlite:///{tmp_path}/batch.db"
    engine = make_engine(live)
    migrate(engine)
    t = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    with transaction(session_factory(engine)) as s:
        open_gap(s, pharmacy_id="P1", counter_id="C1", start=t, reason="the stream ended")
        open_tamper(s, pharmacy_id="P1", counter_id="C2", what="frozen", start=t + timedelta(seconds=5), last_good_at=t)
    engine.dispose()
    assert copy_camera_log(live, batch) == 2
    engine = make_engine(batch)
    with session_factory(engine)() as s:
        gap, = s.scalars(select(CameraGapRow)).all()
        span, = s.scalars(select(CameraTamperRow)).all()
    engine.dispose()
    assert (gap.counter_id, gap.start, gap.end, gap.reason) == ("C1", t, None, "the stream ended")
    assert (span.counter_id, span.what, span.start, span.last_good_at) == ("C2", "frozen", t + timedelta(seconds=5), t)
