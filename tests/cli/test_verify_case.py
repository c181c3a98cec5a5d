"""``rxaudit verify-case`` offline, on sealed zips built here: a good one verifies (exit 0), and any
changed byte, a missing or extra member, another key, no signature, a compressed member, an unsafe name
or too many members each fail with a line naming what failed. ``case-key`` creates and shows keys
without ever printing the private one."""

from __future__ import annotations

import hashlib
import io
import os
import random
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.main import main
from rxaudit import sealed_zip
from rxaudit.case_seal import (PUBLIC_KEY, SIGNATURE, SUMS, Problem, manifest, public_pem, sign,
                               verify_case)
from rxaudit.sealed_zip import CanonicalZipWriter, ZipLayoutError, write_canonical

MEMBERS = [("flag-1-no_customer/case.json", b'{"case_no": "A-2026-00001"}\n'),
           ("flag-1-no_customer/keyframe-0.jpg", os.urandom(3000)),
           ("flag-1-no_customer/clip.mp4", os.urandom(20000)),
           ("index.json", "{\"导出人\": \"insp_a\"}\n".encode()),
           ("summary.html", "<html>技术细节</html>".encode())]


def sealed(members=MEMBERS, key: Ed25519PrivateKey | None = None, *, listed=None, extra=(),
           enclosed: Ed25519PrivateKey | None = None) -> bytes:
    """A case zip as api.case_file writes it: members, public key, SHA256SUMS, its signature."""
    key = key or KEY
    members = [*members, (PUBLIC_KEY, public_pem(enclosed or key))]
    listed = members if listed is None else listed
    sums = manifest([(n, hashlib.sha256(d).hexdigest()) for n, d in listed])
    out = io.BytesIO()
    write_canonical(out, [*members, *extra, (SUMS, sums), (SIGNATURE, sign(key, sums))])
    return out.getvalue()


KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


@pytest.fixture
def case(tmp_path) -> Path:
    path = tmp_path / "case.zip"
    path.write_bytes(sealed())
    return path


def pem_file(tmp_path: Path, key: Ed25519PrivateKey, name: str = "bureau.pub.pem") -> Path:
    path = tmp_path / name
    path.write_bytes(public_pem(key))
    return path


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["verify-case", *argv, "--lang", "en"])
    return code, capsys.readouterr().out


def test_a_sealed_case_verifies_and_opens_anywhere(case, tmp_path, capsys):
    code, out = run(capsys, str(case), "--public-key", str(pem_file(tmp_path, KEY)))
    assert code == 0, out
    assert out.startswith(f"OK: {case} verifies: 8 files") and "signed with the key given" in out
    with zipfile.ZipFile(case) as zf:  # an ordinary zip: every tool reads it
        assert zf.testzip() is None and zf.read("summary.html") == MEMBERS[-1][1]
    code, out = run(capsys, str(case))  # no key given: the enclosed one, with its fingerprint to compare
    assert code == 0 and "compare it with the bureau's published fingerprint" in out


def _positions(data: bytes) -> list[int]:
    """Every byte of the headers, the directory, the end record, SHA256SUMS, the signature and the
    public key, and 300 positions inside the members' contents."""
    structural, content = [], []
    offset = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    for info in infos:
        start = info.header_offset + 30 + len(info.filename.encode())
        structural += range(info.header_offset, start)
        span = range(start, start + info.file_size)
        (structural if info.filename in (SUMS, SIGNATURE, PUBLIC_KEY) else content).extend(span)
        offset = start + info.file_size
    structural += range(offset, len(data))
    return structural + random.Random(7).sample(content, 300)


def test_any_changed_byte_fails(case, tmp_path):
    data = case.read_bytes()
    trusted = serialization.load_pem_public_key(public_pem(KEY))
    positions = _positions(data)
    assert len(positions) > 1000
    passed = []
    with case.open("r+b") as fh:
        for pos in positions:
            for flip in (0x01, 0x80):
                fh.seek(pos)
                fh.write(bytes([data[pos] ^ flip]))
                fh.flush()
                if verify_case(case, trusted).ok or verify_case(case).ok:
                    passed.append((pos, flip))
                fh.seek(pos)
                fh.write(data[pos:pos + 1])
        fh.flush()
    assert passed == []
    assert verify_case(case, trusted).ok  # restored: verifies again


def test_appended_or_cut_bytes_fail(case):
    data = case.read_bytes()
    for changed in (data + b"\0", data[:-1], b"\0" + data, data[:len(data) // 2]):
        case.write_bytes(changed)
        assert not verify_case(case).ok


@pytest.mark.parametrize("change, problem", [
    ("missing", Problem.MISSING), ("extra", Problem.EXTRA), ("unlisted", Problem.EXTRA),
])
def test_a_missing_or_extra_member_fails(tmp_path, capsys, change, problem):
    members = [*MEMBERS, (PUBLIC_KEY, public_pem(KEY))]
    if change == "missing":  # listed and signed, then left out
        data = sealed(MEMBERS[1:], listed=members)
    elif change == "extra":  # a member smuggled in after signing
        data = sealed(extra=[("flag-1-no_customer/note.txt", b"added later")])
    else:  # the same, listed nowhere but placed before the seal
        data = sealed([*MEMBERS, ("zz.txt", b"x")], listed=members)
    path = tmp_path / "case.zip"
    path.write_bytes(data)
    verdict = verify_case(path)
    assert problem in [p for p, _ in verdict.failures]
    code, out = run(capsys, str(path))
    assert code == 1 and "NOT VERIFIED" in out
    assert ("missing file: flag-1-no_customer/case.json" in out) if change == "missing" else \
        ("extra file not listed in SHA256SUMS" in out)


def test_a_wrong_key_fails(case, tmp_path, capsys):
    code, out = run(capsys, str(case), "--public-key", str(pem_file(tmp_path, OTHER)))
    assert code == 1
    assert "signed with another key" in out and "signature over SHA256SUMS does not verify" in out


def test_a_case_resealed_with_another_key_fails_against_the_bureaus(tmp_path, capsys):
    path = tmp_path / "forged.zip"
    path.write_bytes(sealed(key=OTHER))  # consistent in itself: only the bureau's key tells
    code, out = run(capsys, str(path), "--public-key", str(pem_file(tmp_path, KEY)))
    assert code == 1 and "signed with another key" in out
    code, out = run(capsys, str(path))
    assert code == 0 and public_pem(OTHER) != public_pem(KEY)  # the fingerprint printed is OTHER's
    from rxaudit.case_seal import fingerprint
    assert fingerprint(OTHER.public_key()) in out and fingerprint(KEY.public_key()) not in out


def test_an_enclosed_key_that_does_not_match_the_signature_fails(tmp_path):
    path = tmp_path / "case.zip"
    path.write_bytes(sealed(enclosed=OTHER))
    assert [p for p, _ in verify_case(path).failures] == [Problem.BAD_SIGNATURE]


def test_an_unsigned_case_fails(tmp_path, capsys):
    members = [*MEMBERS]
    sums = manifest([(n, hashlib.sha256(d).hexdigest()) for n, d in members])
    path = tmp_path / "case.zip"
    with path.open("wb") as fh:
        write_canonical(fh, [*members, (SUMS, sums)])
    code, out = run(capsys, str(path))
    assert code == 1 and "not signed (no SHA256SUMS.sig)" in out


def test_a_compressed_member_is_refused_unread(tmp_path, capsys):
    """A deflated member (a zip bomb's tool) is never inflated: the layout check refuses it."""
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("summary.html", b"\0" * 50_000_000)
    assert path.stat().st_size < 100_000
    code, out = run(capsys, str(path))
    assert code == 1 and "not a sealed case file" in out and "not the canonical one" in out


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd", "a/../../b", "a\\b", "C:/x", "a//b", "./a", "a\x01"])
def test_unsafe_member_names_are_refused(tmp_path, name):
    with pytest.raises(ZipLayoutError):
        sealed_zip.check_name(name)
    raw = name.encode()
    data = sealed_zip._local(raw, 0, 0) + sealed_zip._central(raw, 0, 0, 0) + sealed_zip._end(1, 46 + len(raw), 30 + len(raw))
    path = tmp_path / "evil.zip"
    path.write_bytes(data)
    (problem, detail), = verify_case(path).failures
    assert problem == Problem.LAYOUT and "unsafe member name" in detail
    with pytest.raises(ZipLayoutError):
        CanonicalZipWriter(io.BytesIO()).add_bytes(name, b"")


def test_too_many_members_are_refused_early(tmp_path):
    path = tmp_path / "many.zip"
    with path.open("wb") as fh:
        write_canonical(fh, [(f"m{i}", b"") for i in range(50)])
    (problem, detail), = verify_case(path, max_members=20).failures
    assert problem == Problem.LAYOUT and "more than 20 members" in detail


def test_a_member_announcing_more_than_the_file_holds_is_refused(tmp_path):
    raw = b"summary.html"
    path = tmp_path / "liar.zip"
    path.write_bytes(sealed_zip._local(raw, 0, 4_000_000_000) + b"tiny")
    (problem, detail), = verify_case(path).failures
    assert problem == Problem.LAYOUT and "announces more than the file holds" in detail


def test_missing_file_and_unreadable_key_are_clear(tmp_path, capsys, case):
    code, out = run(capsys, str(tmp_path / "nope.zip"))
    assert code == 1 and "cannot be read" in out
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    code, out = run(capsys, str(case), "--public-key", str(bad))
    assert code == 1 and "public key cannot be read" in out


def test_lines_in_chinese(case, tmp_path, capsys):
    assert main(["verify-case", str(case), "--lang", "zh_CN"]) == 0
    assert "核验通过" in capsys.readouterr().out
    changed = [*MEMBERS[:-1], ("summary.html", MEMBERS[-1][1].replace("技".encode(), "伎".encode()))]
    case.write_bytes(sealed(changed, listed=[*MEMBERS, (PUBLIC_KEY, public_pem(KEY))]))  # a consistent zip, content changed
    assert main(["verify-case", str(case), "--lang", "zh_CN"]) == 1
    out = capsys.readouterr().out
    assert "未通过：文件内容被改动（SHA-256 不符）：summary.html" in out and "核验未通过" in out


def test_case_key_generate_and_public(tmp_path, capsys, monkeypatch):
    key_file = tmp_path / "bureau.pem"
    assert main(["case-key", "generate", "--out", str(key_file), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    private = key_file.read_bytes()
    assert (key_file.stat().st_mode & 0o777) == 0o600 and b"PRIVATE KEY" in private
    assert "PRIVATE" not in out and "BEGIN PUBLIC KEY" in out
    assert main(["case-key", "generate", "--out", str(key_file)]) == 4  # never overwritten
    assert key_file.read_bytes() == private
    capsys.readouterr()
    monkeypatch.setenv("RXAUDIT_CASE_SIGNING_KEY_FILE", str(key_file))
    assert main(["case-key", "public", "--db", f"sqlite:///{tmp_path}/x.db", "--out", str(tmp_path / "pub.pem")]) == 0
    shown = capsys.readouterr().out
    assert "PRIVATE" not in shown and (tmp_path / "pub.pem").read_text() in shown
    monkeypatch.delenv("RXAUDIT_CASE_SIGNING_KEY_FILE")
    monkeypatch.setenv("RXAUDIT_CASE_SIGNING_KEY", private.decode())  # the PEM itself, from the environment
    assert main(["case-key", "public", "--db", f"sqlite:///{tmp_path}/x.db"]) == 0
    assert capsys.readouterr().out == shown

