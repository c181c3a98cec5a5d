"""Case files: a Chinese summary, the evidence, local times, a SHA256SUMS manifest that verifies,
the export in the audit log, no card id, and a clip that cannot be decoded is never left out silently."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from database.accounts import user_principal
from database.engine import make_engine, session_factory, transaction
from database.models import AuditLogEntry, AuditRun, User
from database.verdicts import record_verdict
from rxaudit.security import VerdictAction


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


def _manifest_ok(zf: zipfile.ZipFile) -> dict[str, str]:
    """Every file but the manifest is listed once, with its true sha256; returns name -> digest."""
    lines = zf.read("SHA256SUMS").decode().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(zf.read(name)).hexdigest() == digest, name
        listed[name] = digest
    assert set(listed) == set(zf.namelist()) - {"SHA256SUMS"}
    assert len(listed) == len(lines)
    return listed


def judge(city, name: str, flag: int, note: str, action: VerdictAction = VerdictAction.CONFIRM) -> None:
    """A verdict as the review UI records it (straight through the repository)."""
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        user = session.scalar(select(User).where(User.name == name))
        record_verdict(session, user_principal(user), flag_id=flag, action=action, note=note)
    engine.dispose()


def _audit_rows(city) -> list[AuditLogEntry]:
    engine = make_engine(city.settings.db_url)
    with session_factory(engine)() as session:
        rows = list(session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id)))
    engine.dispose()
    return rows


def test_case_file_of_one_flag(client_for, city, tmp_path):
    scratch = set(Path(tempfile.gettempdir()).glob("rxaudit-case-*"))
    client = client_for("insp_a")
    flag = city.flags["A1"]
    note = '<script>alert("x")</script> 现场核实'
    judge(city, "insp_a", flag, note)
    response = client.get(f"/flags/{flag}/export.zip")
    with _zip(response) as zf:
        listed = _manifest_ok(zf)
        folder = f"flag-{flag}-no_customer"
        assert {f"{folder}/case.json", f"{folder}/keyframe-0.jpg", f"{folder}/clip.mp4", "index.json",
                "summary.html"} <= set(listed)
        case = json.loads(zf.read(f"{folder}/case.json"))
        summary = zf.read("summary.html").decode()
        everything = b"".join(zf.read(n) for n in zf.namelist())
        zf.extractall(tmp_path / "case")
    assert hashlib.sha256(zf_bytes := (tmp_path / "case" / "SHA256SUMS").read_bytes()).hexdigest() \
        == response.headers["x-manifest-sha256"] and zf_bytes
    if shutil.which("sha256sum"):  # the manifest is what sha256sum -c expects
        subprocess.run(["sha256sum", "-c", "--strict", "--quiet", "SHA256SUMS"], cwd=tmp_path / "case", check=True)
    # Chinese, printable, self-contained, no script; stored text escaped
    assert "医保结算疑点案卷" in summary and "空刷" in summary and 'lang="zh-CN"' in summary
    assert "刷卡时柜台前无顾客" in summary  # the reason in plain Chinese, the technical text below it
    assert "<script" not in summary and "&lt;script&gt;" in summary and "现场核实" in summary
    assert "data:image/jpeg;base64," in summary and "http" not in summary.lower().replace("http-equiv", "")
    # local times, one convention
    assert case["settlement"]["settled_at"] == "2026-11-20 10:00:45+08:00"
    assert "结算时间</th><td>2026-11-20 10:00:45+08:00" in summary
    assert case["verdicts"][0]["at"].endswith("+08:00") and case["verdicts"][0]["note"] == note
    assert case["flag"]["created_at"].endswith("+08:00") and case["timezone"] == "Asia/Shanghai"
    # no card id, no storage path
    assert b"CARD-" not in everything and case["settlement"]["card_hash"]
    assert case["flag"]["evidence"][0]["keyframe"] == "keyframe-0.jpg"
    assert "evidence" not in json.dumps(case["flag"]["evidence"]).replace('"evidence"', "")
    assert set(Path(tempfile.gettempdir()).glob("rxaudit-case-*")) == scratch  # nothing left behind
    # who exported what, when
    (entry,) = [r for r in _audit_rows(city) if r.action == "export"]
    assert (entry.actor_kind, entry.actor_name, entry.subject) == ("user", "insp_a", f"flags:{flag}")
    assert entry.detail["manifest_sha256"] == response.headers["x-manifest-sha256"]


def test_a_clip_that_does_not_decode_is_named_not_dropped(client_for, city):
    client = client_for("insp_a")
    flag = city.flags["A1"]
    assert client.get(f"/flags/{flag}/clip.mp4").status_code == 200  # cut and cached
    (cached,) = Path(city.settings.evidence_dir, "clips").glob("*.mp4")
    cached.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    with _zip(client.get(f"/flags/{flag}/export.zip")) as zf:
        listed = _manifest_ok(zf)
        folder = f"flag-{flag}-no_customer"
        assert f"{folder}/clip.mp4" not in listed and f"{folder}/clip-unavailable.txt" in listed
        assert "无法解码" in zf.read(f"{folder}/clip-unavailable.txt").decode()
        assert "未附视频" in zf.read("summary.html").decode()
        index = json.loads(zf.read("index.json"))
    assert index["flags"][0]["clip"] is None and "无法解码" in index["flags"][0]["clip_problem"]
    assert _audit_rows(city)[-1].detail["clips_missing"] == [flag]


def test_missing_footage_is_named_in_the_case_file(client_for, city):
    client = client_for("insp_a")
    flag = city.flags["A1"]
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:  # the audit's footage, now unreadable
        for run in session.scalars(select(AuditRun)):
            broken = Path(city.root, "broken-videos")
            shutil.copytree(run.videos, broken, dirs_exist_ok=True)
            for video in broken.rglob("*.mp4"):
                video.write_bytes(b"not a video")
            run.videos = str(broken)
    engine.dispose()
    shutil.rmtree(Path(city.settings.evidence_dir, "clips"), ignore_errors=True)
    with _zip(client.get(f"/flags/{flag}/export.zip")) as zf:
        listed = _manifest_ok(zf)
        assert f"flag-{flag}-no_customer/clip-unavailable.txt" in listed
        assert "未附视频" in zf.read("summary.html").decode()


def test_selection_case_file_covers_every_flag_in_scope(client_for, city):
    client = client_for("sup")
    with _zip(client.get("/export.zip")) as zf:
        listed = _manifest_ok(zf)
        index = json.loads(zf.read("index.json"))
        summary = zf.read("summary.html").decode()
        everything = b"".join(zf.read(n) for n in zf.namelist())
    folders = {f["folder"] for f in index["flags"]}
    assert len(folders) >= 3 and all(any(n.startswith(f + "/") for n in listed) for f in folders)
    assert summary.count('<section class="case">') == len(folders)
    assert index["exported_at"].endswith("+08:00") and index["exported_by"] == "sup"
    assert b"CARD-" not in everything


@pytest.mark.parametrize("who", ["insp_b", "key_b"])
def test_no_case_file_outside_the_district_and_no_record_of_one(client_for, city, who):
    assert client_for(who).get(f"/flags/{city.flags['A1']}/export.zip").status_code == 404
    assert [r for r in _audit_rows(city) if r.action == "export"] == []


def _pdf_fonts(pdf: bytes) -> bytes:
    """The PDF's font names (its streams inflated: WeasyPrint packs objects into streams)."""
    import re
    import zlib

    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n", pdf):
        try:
            parts.append(zlib.decompressobj().decompress(pdf[match.end():match.end() + 5_000_000]))
        except zlib.error:
            pass
    return b" ".join(re.findall(rb"/(?:BaseFont|FontName)\s*/([^\s/<>]+)", b"".join(parts)))


def test_a_pdf_summary_where_chinese_renders_else_the_reason(client_for, city):
    from api.case_pdf import chinese_font, render_pdf

    flag = city.flags["A1"]
    with _zip(client_for("insp_a").get(f"/flags/{flag}/export.zip")) as zf:
        listed = _manifest_ok(zf)
        index = json.loads(zf.read("index.json"))
        pdf = zf.read("summary.pdf") if "summary.pdf" in listed else None
    available, why = render_pdf("<p>空刷</p>")
    if available is None:
        assert pdf is None and index["summary_pdf"] is None and index["summary_pdf_problem"] == why
        return
    assert index["summary_pdf"] == "summary.pdf" and index["summary_pdf_problem"] is None
    assert pdf.startswith(b"%PDF-")
    def squeeze(name: bytes) -> bytes:
        return name.replace(b"#20", b"").replace(b"-", b"").replace(b" ", b"").lower()

    assert squeeze(chinese_font().encode()) in squeeze(_pdf_fonts(pdf))  # the Chinese font is embedded
