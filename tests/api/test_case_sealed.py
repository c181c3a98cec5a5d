"""A case file a prosecutor accepts: signed with the bureau's key, verified offline by
``rxaudit verify-case`` (and failing once changed), with a stable case number, the source segments
by name and sha256, camera and clock offset, models and thresholds, the pharmacy's operator and
address, the reviewers with name and badge — a second one where the kind needs it —, signature lines
and page numbers; the private key never in the zip or the logs."""

from __future__ import annotations

import io
import logging
import re
import zipfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from api.app import create_app
from cli.main import main
from database.accounts import set_identity
from database.engine import make_engine, session_factory, transaction
from database.models import AuditLogEntry, CaseNumber, Pharmacy
from rxaudit.case_seal import public_pem, verify_case
from rxaudit.hashing import sha256_file
from rxaudit.security import VerdictAction
from tests.api.conftest import sign_in
from tests.api.test_case_file import judge


@pytest.fixture
def signed(city, tmp_path):
    """The city's app with the bureau's signing key configured (a file, mode 0600)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path = tmp_path / "bureau.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    settings = city.settings.model_copy(update={"case_signing_key_file": path})
    city.settings = settings
    from fastapi.testclient import TestClient

    def client(name: str) -> TestClient:
        c = TestClient(create_app(settings))
        assert sign_in(c, name).status_code == 303
        return c
    return key, pem, client


def _db(city):
    engine = make_engine(city.settings.db_url)
    return engine, transaction(session_factory(engine))


def export(client, flag: int, tmp_path, name: str = "case.zip"):
    response = client.get(f"/flags/{flag}/export.zip")
    assert response.status_code == 200, response.text
    path = tmp_path / name
    path.write_bytes(response.content)
    return path


def test_a_signed_case_verifies_offline_and_fails_once_changed(city, signed, tmp_path, capsys, caplog):
    key, pem, client = signed
    caplog.set_level(logging.DEBUG)
    path = export(client("insp_a"), city.flags["A1"], tmp_path)
    pub = tmp_path / "bureau.pub.pem"
    pub.write_bytes(public_pem(key))
    assert main(["verify-case", str(path), "--public-key", str(pub), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK: {path} verifies") and "signed with the key given" in out
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert zf.read("public-key.pem") == public_pem(key) and len(zf.read("SHA256SUMS.sig")) == 64
        everything = b"".join(zf.read(n) for n in names)
    assert names[-2:] == ["SHA256SUMS", "SHA256SUMS.sig"]
    # the private key is nowhere: not in the zip, not in the logs, not in the audit log
    secret = pem.split(b"\n")[1]
    assert secret not in everything and secret not in path.read_bytes()
    assert secret.decode() not in caplog.text and secret.decode() not in out
    engine, tx = _db(city)
    with tx as session:
        assert all(secret.decode() not in str(r.detail) for r in session.scalars(select(AuditLogEntry)))
    engine.dispose()
    # one changed byte anywhere fails: a member, SHA256SUMS, the signature, the directory
    data = path.read_bytes()
    sums_at, sig_at = data.rfind(b"SHA256SUMS") + 10, data.rfind(b"SHA256SUMS.sig") + 14
    with zipfile.ZipFile(path) as zf:
        info = {i.filename: i for i in zf.infolist()}
    spots = [0, 5, 20, info["summary.html"].header_offset + 200, sums_at, sig_at, len(data) - 30, len(data) - 1,
             *range(len(data) - 400, len(data), 7)]
    for pos in spots:
        changed = bytearray(data)
        changed[pos] ^= 0x20
        path.write_bytes(bytes(changed))
        assert main(["verify-case", str(path), "--public-key", str(pub), "--lang", "en"]) == 1, pos
        assert "FAILED:" in capsys.readouterr().out
    path.write_bytes(data)
    other = tmp_path / "other.pem"
    other.write_bytes(public_pem(Ed25519PrivateKey.generate()))
    assert main(["verify-case", str(path), "--public-key", str(other), "--lang", "en"]) == 1
    assert "signed with another key" in capsys.readouterr().out


def test_the_case_number_is_given_once_and_kept(city, signed, tmp_path):
    _, _, client = signed
    c = client("sup")
    first = export(c, city.flags["A1"], tmp_path, "a.zip")
    again = export(c, city.flags["A1"], tmp_path, "b.zip")
    other = export(c, city.flags["B1"], tmp_path, "c.zip")
    numbers = []
    for path in (first, again, other):
        with zipfile.ZipFile(path) as zf:
            import json
            numbers.append(json.loads(zf.read("index.json"))["flags"][0]["case_no"])
            assert numbers[-1] in zf.read("summary.html").decode()
    year = numbers[0].split("-")[1]
    assert numbers[0] == numbers[1] == f"A-{year}-00001" and numbers[2] == f"B-{year}-00001"
    engine, tx = _db(city)
    with tx as session:
        assert len(session.scalars(select(CaseNumber)).all()) == 2
    engine.dispose()


def test_the_summary_holds_what_a_prosecutor_needs(city, signed, tmp_path):
    key, _, client = signed
    flag = city.flags["A1"]
    engine, tx = _db(city)
    with tx as session:
        set_identity(session, name="insp_a", full_name="王建国", badge_no="31010001")
        set_identity(session, name="sup", full_name="李敏", badge_no="31010002")
        pharmacy = session.get(Pharmacy, "PH1")
        pharmacy.operator, pharmacy.address = "上海东方大药房有限公司", "上海市浦东新区世纪大道 100 号"
    engine.dispose()
    judge(city, "insp_a", flag, "现场核实")
    path = export(client("insp_a"), flag, tmp_path)
    assert verify_case(path, key.public_key()).ok
    with zipfile.ZipFile(path) as zf:
        summary = zf.read("summary.html").decode()
        case = __import__("json").loads(zf.read(f"flag-{flag}-no_customer/case.json"))
    segment = next((city.root / "videos" / "PH1" / "C1").iterdir()) if (city.root / "videos").exists() else None
    # the original segment the clip was cut from, by name and sha256; the clip called a re-encoded copy
    (source,) = case["source_segments"]
    assert case["clip"]["re_encoded_copy_of"] == [source["name"]] and source["sha256"]
    assert source["name"] in summary and source["sha256"] in summary and "重新编码副本" in summary
    if segment is not None:
        assert source == {**source, "name": segment.name, "sha256": sha256_file(segment)}
    # camera, clock offset, models and thresholds, technical details in Chinese
    assert "摄像头编号</th><td>PH1/C1" in summary and case["camera_id"] == "PH1/C1"
    assert case["clock_offset_s"] == 0 and "画面时间与结算时间一致" in summary
    assert sha256_file(city.settings.pose_model) in summary and "人体检测：最低置信度" in summary
    assert "技术细节" in summary and "刷卡前后检查的帧数" in summary
    # the pharmacy, the reviewer with name and badge, the second one awaited, signature lines, pages
    assert "PH1" in summary and "上海东方大药房有限公司" in summary and "世纪大道 100 号" in summary
    assert "王建国" in summary and "31010001" in summary and "待第二审核人" in summary
    assert summary.count("<th>签名</th>") == 1 and "审批人" in summary
    assert re.search(r'@bottom-center \{ content: "第 " counter\(page\) " 页，共 " counter\(pages\) " 页"', summary)
    assert case["reviewers"][0]["badge_no"] == "31010001" and case["second_reviewer_required"] is True
    # a second reviewer confirms: both are named, nothing awaited
    judge(city, "sup", flag, "复核无误")
    with zipfile.ZipFile(export(client("insp_a"), flag, tmp_path, "second.zip")) as zf:
        summary = zf.read("summary.html").decode()
    assert "王建国" in summary and "李敏" in summary and "31010002" in summary and "待第二审核人" not in summary


def test_a_dismissal_or_reopen_takes_a_reviewer_off(city, signed, tmp_path):
    _, _, client = signed
    flag = city.flags["A1"]
    judge(city, "insp_a", flag, "x")
    judge(city, "sup", flag, "y")
    judge(city, "sup", flag, "z", VerdictAction.REOPEN)
    with zipfile.ZipFile(export(client("insp_a"), flag, tmp_path)) as zf:
        case = __import__("json").loads(zf.read(f"flag-{flag}-no_customer/case.json"))
        summary = zf.read("summary.html").decode()
    assert case["reviewers"] == [] and "待审核" in summary and "待第二审核人" in summary


def test_an_unsigned_case_says_so_and_does_not_verify(client_for, city, tmp_path):
    path = export(client_for("insp_a"), city.flags["A1"], tmp_path)
    with zipfile.ZipFile(path) as zf:
        assert "本案卷未签名" in zf.read("summary.html").decode()
        assert "SHA256SUMS.sig" not in zf.namelist()
    assert [p for p, _ in verify_case(path).failures] == ["not_signed"]


def test_an_unreadable_key_is_a_clear_error_not_a_case(city, tmp_path, caplog):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n")
    settings = city.settings.model_copy(update={"case_signing_key_file": bad})
    from fastapi.testclient import TestClient

    c = TestClient(create_app(settings), raise_server_exceptions=False)
    assert sign_in(c, "insp_a").status_code == 303
    response = c.get(f"/flags/{city.flags['A1']}/export.zip")
    assert response.status_code == 500 and "not really" not in response.text and "not really" not in caplog.text
