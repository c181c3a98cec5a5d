"""``rxaudit cameras status`` and the record command's refusals (one line, an exit code, no secret)."""

from __future__ import annotations

from datetime import timedelta

from cli.main import main
from database.cameras import open_gap, save_health
from database.engine import make_engine, migrate, session_factory, transaction
from tests.factories import T0


def test_cameras_status_prints_health_and_gaps(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/rx.db"
    engine = make_engine(url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        save_health(session, pharmacy_id="P1", counter_id="C1", state="offline", state_since=T0,
                    last_frame_at=T0 - timedelta(seconds=3), fps=None, bitrate_kbps=None, width=640, height=360,
                    stream="rtsp://admin:***@10.0.0.1/ch1", detail="cannot read the stream: Connection refused")
        open_gap(session, pharmacy_id="P1", counter_id="C1", start=T0 - timedelta(seconds=3),
                 reason="cannot read the stream: Connection refused")
    assert main(["cameras", "status", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "P1/C1" in out and "offline" in out and "640x360" in out
    assert "gap 2026-11-20T09:59:57+08:00 .. now: cannot read the stream: Connection refused" in out
    assert main(["cameras", "status", "--db", url, "--json", "-"]) == 0
    assert '"stream": "rtsp://admin:***@10.0.0.1/ch1"' in capsys.readouterr().out


def test_record_refuses_what_it_cannot_do(tmp_path, capsys, monkeypatch):
    cams = tmp_path / "cameras.yaml"
    cams.write_text("pharmacies:\n  P1:\n    counters:\n      C1: {clock_offset_s: 1}\n", encoding="utf-8")
    assert main(["record", "--cameras", str(cams), "--videos", str(tmp_path)]) != 0
    assert "no counter with a stream: to record" in capsys.readouterr().err
    cams.write_text("pharmacies:\n  P1:\n    counters:\n      C1: {stream: 'rtsp://10.0.0.1/1', credentials: CAM}\n",
                    encoding="utf-8")
    monkeypatch.delenv("RXAUDIT_CAMERA_CAM", raising=False)
    assert main(["record", "--cameras", str(cams), "--videos", str(tmp_path)]) != 0
    assert "credentials CAM: set RXAUDIT_CAMERA_CAM=user:password" in capsys.readouterr().err
    assert main(["record", "--cameras", str(cams), "--videos", "https://host/x"]) != 0
    assert "a folder or s3://bucket/prefix, not https://" in capsys.readouterr().err
    assert main(["record", "--cameras", str(cams), "--videos", "s3://"]) != 0
    assert "name the bucket" in capsys.readouterr().err
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("CAM: 'admin:hunter2'\n", encoding="utf-8")
    assert main(["record", "--cameras", str(cams), "--videos", str(tmp_path), "--secrets", str(secrets),
                 "--shard", "2/1"]) != 0
    err = capsys.readouterr().err
    assert "--shard" in err and "hunter2" not in err
