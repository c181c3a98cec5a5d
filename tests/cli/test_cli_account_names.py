"""User and API key names and districts that cannot be stored (too long, control characters) are
a clear error before any database write, on SQLite and PostgreSQL, never a traceback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cli.main import main
from database.engine import make_engine, migrate, session_factory
from database.models import ApiKey, User


@pytest.mark.parametrize("args, message", [
    (["user", "add", "n" * 65, "--role", "supervisor", "--generate"], "name: 1 to 64"),
    (["user", "add", "a\x00b", "--role", "supervisor", "--generate"], "name: 1 to 64"),
    (["user", "add", "li", "--role", "inspector", "--district", "D" * 65, "--generate"], "--district"),
    (["apikey", "create", "--name", "k" * 65], "--name: 1 to 64"),
    (["apikey", "create", "--name", "wall", "--district", "D\x00"], "--district"),
])
def test_unstorable_names_are_input_errors(db_url, capsys, args, message):
    engine = make_engine(db_url)
    migrate(engine)
    assert main([*args, "--db", db_url]) == 4
    assert message in capsys.readouterr().err
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 0
    engine.dispose()


def test_a_64_character_name_is_fine(db_url):
    assert main(["user", "add", "n" * 64, "--role", "supervisor", "--generate", "--db", db_url]) == 0
