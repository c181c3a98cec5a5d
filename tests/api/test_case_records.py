"""What case files store: migration 0012 up and down on both databases, reviewers' identity through
``rxaudit user identity``, case numbers unique per district and year."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, select

from cli.main import main
from database.accounts import add_user
from database.case_numbers import case_number
from database.engine import alembic_config, make_engine, migrate, session_factory, transaction
from database.models import User
from rxaudit.security import Role


def test_migration_up_and_down(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    columns = lambda table: {c["name"] for c in inspect(engine).get_columns(table)}  # noqa: E731
    assert {"full_name", "badge_no"} <= columns("users") and {"operator", "address"} <= columns("pharmacies")
    assert "case_numbers" in inspect(engine).get_table_names()
    command.downgrade(alembic_config(engine), "0011")
    fresh = inspect(make_engine(db_url))
    assert "case_numbers" not in fresh.get_table_names()
    assert "badge_no" not in {c["name"] for c in fresh.get_columns("users")}
    migrate(engine)
    assert "case_numbers" in inspect(make_engine(db_url)).get_table_names()
    engine.dispose()


def test_user_identity_command(db_url, capsys):
    engine = make_engine(db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        add_user(session, name="insp_a", role=Role.INSPECTOR, password="correct horse battery", districts=["A"])
    assert main(["user", "identity", "insp_a", "--full-name", "王建国", "--badge", "31010001", "--db", db_url]) == 0
    assert "recorded" in capsys.readouterr().out
    with session_factory(engine)() as session:
        user = session.scalar(select(User).where(User.name == "insp_a"))
        assert (user.full_name, user.badge_no) == ("王建国", "31010001")
    assert main(["user", "identity", "nobody", "--full-name", "x", "--badge", "1", "--db", db_url]) == 4
    assert main(["user", "identity", "insp_a", "--full-name", "x\ny", "--badge", "1", "--db", db_url]) == 4
    assert main(["user", "identity", "insp_a", "--full-name", "  ", "--badge", "1", "--db", db_url]) == 4
    engine.dispose()


def test_case_numbers_count_per_district_and_year(db_url):
    from database.models import FlagRow
    from rxaudit.domain import FlagKind
    from tests.database.test_repository import result, save, setup
    from tests.factories import settlement

    engine, factory = setup(db_url)
    save(factory, *(result(settlement(k + 1), FlagKind.NO_CUSTOMER) for k in range(4)))
    with transaction(factory) as session:
        ids = sorted(session.scalars(select(FlagRow.id)))
        got = [case_number(session, flag_id=ids[0], district="A", year=2026),
               case_number(session, flag_id=ids[1], district="A", year=2026),
               case_number(session, flag_id=ids[2], district="B", year=2026),
               case_number(session, flag_id=ids[3], district=None, year=2027),
               case_number(session, flag_id=ids[0], district="A", year=2027)]  # kept, whatever is asked later
    assert got == ["A-2026-00001", "A-2026-00002", "B-2026-00001", "NA-2027-00001", "A-2026-00001"]
    engine.dispose()
