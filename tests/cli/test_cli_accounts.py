from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from cli.main import main
from database.engine import make_engine, session_factory
from database.models import ApiKey, Pharmacy, User
from rxaudit.security import digest, verify_password


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path}/rx.db"


def rows(db, model):
    with session_factory(make_engine(db))() as session:
        return list(session.scalars(select(model)))


def test_user_add_reads_the_password_from_stdin(db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["user", "add", "li", "--role", "inspector", "--district", "D1", "--db", db]) == 0
    (user,) = rows(db, User)
    assert user.role == "inspector" and user.districts == {"districts": ["D1"]}
    assert verify_password(user.password_hash, "a long enough password")
    assert "a long enough password" not in capsys.readouterr().out


def test_user_add_generates_and_prints_a_password(db, capsys):
    assert main(["user", "add", "wang", "--role", "supervisor", "--generate", "--db", db]) == 0
    password = capsys.readouterr().out.rsplit("password: ", 1)[1].strip()
    assert verify_password(rows(db, User)[0].password_hash, password)


@pytest.mark.parametrize("args, message", [
    (["user", "add", "x", "--role", "inspector", "--generate"], "at least one --district"),
    (["user", "add", "x", "--role", "admin"], "at least 10 characters"),
])
def test_user_add_errors(db, monkeypatch, capsys, args, message):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*args, "--db", db]) == 4
    assert message in capsys.readouterr().err


def test_apikey_is_printed_once_and_stored_hashed(db, capsys):
    assert main(["apikey", "create", "--name", "wall", "--district", "D1", "--db", db]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    (row,) = rows(db, ApiKey)
    assert key.startswith("rxa_") and row.key_hash == digest(key) and key not in row.key_hash
    assert main(["apikey", "revoke", str(row.id), "--db", db]) == 0
    assert rows(db, ApiKey)[0].revoked_at is not None


def test_pharmacies_load_reports_bad_rows(db, tmp_path, capsys):
    path = tmp_path / "pharmacies.csv"
    path.write_text("pharmacy_id,name,district\nP1,One,D1\n,Nameless,D2\nP3,Three,D2\n")
    assert main(["pharmacies", "load", str(path), "--db", db]) == 0
    assert {p.pharmacy_id: p.district for p in rows(db, Pharmacy)} == {"P1": "D1", "P3": "D2"}
    assert "line 3" in capsys.readouterr().err


def test_a_database_held_by_another_writer_is_exit_10_with_one_line(db, capsys):
    """Another writer holding the SQLite file past the busy timeout: one line and exit 10 (run it
    again), not a traceback; nothing of the failed step is stored."""
    import sqlite3

    assert main(["apikey", "create", "--name", "wall", "--district", "D1", "--db", db]) == 0
    capsys.readouterr()
    holder = sqlite3.connect(db.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert main(["apikey", "create", "--name", "wall2", "--district", "D1", "--db", db]) == 10
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert err.startswith("rxaudit: error: The database is held by another writer") and "Traceback" not in err
    assert [k.name for k in rows(db, ApiKey)] == ["wall"]
