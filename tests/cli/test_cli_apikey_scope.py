"""``rxaudit apikey create --scope ingest``: a key that may only post settlements."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cli.main import main
from database.accounts import api_key_principal
from database.engine import make_engine, session_factory
from database.models import ApiKey


@pytest.mark.parametrize("args, scope, districts", [
    ([], "read", []),
    (["--scope", "read"], "read", []),
    (["--scope", "ingest"], "ingest", []),
    (["--scope", "ingest", "--district", "D1", "--district", "D2"], "ingest", ["D1", "D2"]),
])
def test_scope_is_stored_and_carried_by_the_key(tmp_path, capsys, args, scope, districts):
    db = f"sqlite:///{tmp_path}/rx.db"
    assert main(["apikey", "create", "--name", "platform", *args, "--db", db]) == 0
    out = capsys.readouterr().out
    key = out.strip().splitlines()[-1]
    assert ("may only post settlements" in out) is (scope == "ingest")
    engine = make_engine(db)
    with session_factory(engine)() as session:
        (row,) = session.scalars(select(ApiKey))
        assert row.scope == scope and row.districts == {"districts": districts}
        principal = api_key_principal(session, key=key)
        assert principal.scope == scope and principal.districts == (frozenset(districts) or None)
    engine.dispose()


def test_an_unknown_scope_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["apikey", "create", "--name", "x", "--scope", "write", "--db", f"sqlite:///{tmp_path}/rx.db"])
    assert "invalid choice" in capsys.readouterr().err
