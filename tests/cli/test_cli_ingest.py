"""Bad input through the command line: every row accounted for, no card id in any output, no
single row aborting the run on either database, bad paths refused before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli.main import build_parser, main
from database.engine import make_engine, session_factory
from database.models import Pharmacy, RejectedRowRecord, SettlementRow
from audit.pipeline import Models
from tests.conftest import TEST_KEY
from tests.fakes import BrightBlockPersons, NoFaces

HEADER = "settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount,operator\n"
CARD_PREFIX = "6222021234"


def row(i: int, *, sid: str | None = None, at: str | None = None, amount: str = "1.00",
        operator: str | None = None) -> str:
    at = at or f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}+08:00"
    return f"{sid or f'S{i}'},PH1,C1,{at},{CARD_PREFIX}{i:06d},{amount},{operator or f'OP{i}'}\n"


@pytest.fixture
def audit_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    monkeypatch.setattr("audit.pipeline.load_models",
                        lambda settings: Models(persons=BrightBlockPersons(), faces=NoFaces()))
    (tmp_path / "videos").mkdir()

    def run(body: str, db: str, *extra: str) -> int:
        (tmp_path / "settlements.csv").write_text(HEADER + body, encoding="utf-8")
        return main(["audit", "--settlements", str(tmp_path / "settlements.csv"), "--videos",
                     str(tmp_path / "videos"), "--db", db, "--evidence-dir", str(tmp_path / "ev"),
                     "--out", str(tmp_path / "flags.json"), *extra])
    return run


def db_dump(db: str) -> tuple[int, list[str], list[str]]:
    with session_factory(make_engine(db))() as session:
        count = session.scalar(select(func.count()).select_from(SettlementRow))
        reasons = list(session.scalars(select(RejectedRowRecord.reason)))
        extras = [json.dumps(e, ensure_ascii=False) for e in session.scalars(select(SettlementRow.extra))]
    return count, reasons, extras


def test_an_unbalanced_quote_costs_one_row_and_every_row_is_counted(audit_cli, db_url, tmp_path, capsys):
    rows = [row(i) for i in range(2, 34)]  # file lines 2..33
    rows[4] = row(6, operator='"OP5')  # line 6: a quote that never closes
    assert audit_cli("".join(rows), db_url) == 0
    out, err = capsys.readouterr()
    assert "rows read 32 = 31 audited + 1 rejected" in out
    assert "rejected settlements.csv line 6: row has an unbalanced quote" in err
    flags = (tmp_path / "flags.json").read_text(encoding="utf-8")
    count, reasons, extras = db_dump(db_url)
    assert count == 31 and len(reasons) == 1 and json.loads(flags)["summary"]["audited"] == 31
    for text in (out, err, flags, *reasons, *extras):
        assert CARD_PREFIX not in text


def test_what_the_database_cannot_hold_is_rejected_and_the_rest_saved(audit_cli, db_url, capsys):
    body = (row(2) + row(3, sid="S" + "3" * 81) + row(4, amount="10000000000") + row(5, operator="O\x00P")
            + row(6, at="9999-12-31T23:59:59+08:00") + row(7, at="0001-01-01T00:00:00+08:00")
            + row(8, amount="1e10") + row(9))
    assert audit_cli(body, db_url) == 0
    out, err = capsys.readouterr()
    assert "rows read 8 = 2 audited + 6 rejected" in out
    for line, reason in [(3, "settlement_id is longer than 64"), (4, "amount is too large"),
                         (5, "operator holds a NUL byte"), (6, "settled_at is outside"),
                         (7, "settled_at is outside"), (8, "amount is too large")]:
        assert f"line {line}: {reason}" in err
    count, reasons, _ = db_dump(db_url)
    assert count == 2 and len(reasons) == 6
    assert CARD_PREFIX not in out + err + "".join(reasons)


def test_out_in_a_missing_folder_fails_before_any_work(audit_cli, tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/rx.db"
    assert audit_cli(row(2), db, "--out", str(tmp_path / "nope" / "flags.json")) == 4
    err = capsys.readouterr().err
    assert err.startswith("rxaudit: error: --out") and "does not exist" in err
    assert not (tmp_path / "rx.db").exists()  # nothing was done


def test_db_in_a_missing_folder_fails_before_any_work(audit_cli, tmp_path, capsys):
    assert audit_cli(row(2), f"sqlite:///{tmp_path}/nope/rx.db") == 3
    err = capsys.readouterr().err
    assert err.startswith("rxaudit: error: db_url") and "nope" in err
    assert not (tmp_path / "flags.json").exists()


@pytest.mark.parametrize("encoding, args", [
    ("gbk", []), ("gb18030", []), ("utf-8-sig", []), ("gbk", ["--encoding", "gbk"]),
])
def test_pharmacies_load_reads_chinese_encodings(tmp_path, capsys, encoding, args):
    path = tmp_path / "pharmacies.csv"
    path.write_bytes("pharmacy_id,name,district\nP1,仁和大药房,朝阳区\nP2,同仁堂,海淀区\n".encode(encoding))
    db = f"sqlite:///{tmp_path}/rx.db"
    assert main(["pharmacies", "load", str(path), "--db", db, *args]) == 0
    assert "2 pharmacies loaded, 0 rows rejected" in capsys.readouterr().out
    with session_factory(make_engine(db))() as session:
        names = {p.pharmacy_id: (p.name, p.district) for p in session.scalars(select(Pharmacy))}
    assert names == {"P1": ("仁和大药房", "朝阳区"), "P2": ("同仁堂", "海淀区")}


def test_pharmacies_load_rejects_bad_rows_and_names_a_bad_encoding(tmp_path, capsys):
    path = tmp_path / "pharmacies.csv"
    path.write_text('pharmacy_id,name,district\nP1,"One,D1\nP2,Two,D2\nP3,' + "x" * 300 + ",D3\n",
                    encoding="utf-8")
    db = f"sqlite:///{tmp_path}/rx.db"
    assert main(["pharmacies", "load", str(path), "--db", db]) == 0
    out, err = capsys.readouterr()
    assert "1 pharmacies loaded, 2 rows rejected" in out
    assert "line 2: row has an unbalanced quote" in err and "line 4: name is longer than 255" in err
    assert main(["pharmacies", "load", str(path), "--db", db, "--encoding", "utf-16"]) == 3
    assert "input_encoding" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["audit"], ["batch"]])
def test_audit_and_batch_take_an_encoding(command):
    args = build_parser().parse_args([*command, "--settlements", "s.csv", "--videos", "v", "--encoding", "gbk"])
    assert args.encoding == "gbk"


def test_a_gb18030_log_is_audited(audit_cli, tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/rx.db"
    audit_cli("", db)  # writes the (empty) log; rewrite it in GB18030
    path: Path = tmp_path / "settlements.csv"
    path.write_bytes((HEADER + row(2, operator="收银员王") + row(3)).encode("gb18030"))
    assert main(["audit", "--settlements", str(path), "--videos", str(tmp_path / "videos"),
                 "--db", db, "--evidence-dir", str(tmp_path / "ev")]) == 0
    assert "rows read 2 = 2 audited + 0 rejected" in capsys.readouterr().out
    _, _, extras = db_dump(db)
    assert any("收银员王" in e for e in extras)


def test_batch_out_in_a_missing_folder_fails_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    (tmp_path / "s.csv").write_text(HEADER + row(2), encoding="utf-8")
    (tmp_path / "videos").mkdir()
    assert main(["batch", "--settlements", str(tmp_path / "s.csv"), "--videos", str(tmp_path / "videos"),
                 "--db", f"sqlite:///{tmp_path}/rx.db", "--out", str(tmp_path / "no" / "f.json"),
                 "--workers", "1", "--no-progress"]) == 4
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "rx.db").exists()
