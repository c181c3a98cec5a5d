from __future__ import annotations

import pytest

from cli.main import main


@pytest.mark.parametrize("args, code, message", [
    (["audit", "--settlements", "missing.csv", "--videos", "."], 4, "cannot open"),
    (["audit", "--settlements", "s.csv", "--videos", ".", "--cameras", "cams.yaml"], 3, "zoen"),
    (["audit", "--settlements", "s.csv", "--videos", "nope"], 6, "not a directory"),
])
def test_errors_are_one_line_with_an_exit_code(tmp_path, monkeypatch, capsys, args, code, message):
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", "k" * 20)
    (tmp_path / "s.csv").write_text("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n")
    (tmp_path / "cams.yaml").write_text("pharmacies:\n  P:\n    counters:\n      C:\n        zoen: []\n")
    assert main([*args, "--db", f"sqlite:///{tmp_path}/x.db"]) == code
    err = capsys.readouterr().err
    assert err.startswith("rxaudit: error:") and message in err


def test_audit_without_card_key_names_the_setting(tmp_path, capsys):
    (tmp_path / "s.csv").write_text("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n")
    assert main(["audit", "--settlements", "s.csv", "--videos", "."]) == 3
    assert "RXAUDIT_CARD_HASH_KEY" in capsys.readouterr().err
