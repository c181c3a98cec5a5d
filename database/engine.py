"""Engines, sessions and migrations. Nothing here runs at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from database import json_codec
from rxaudit.errors import Busy

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # PostgreSQL: a pooled connection is pinged when taken, so that after a server restart the next
    # request gets a fresh connection instead of the dead one (the request that was cut answers 503)
    engine = create_engine(url, future=True, json_serializer=json_codec.dumps,
                           json_deserializer=json_codec.loads, pool_pre_ping=url.startswith("postgresql"))
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()
    return engine


def alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


MIGRATION_LOCK_S = 120  # the longest one process waits for another's migration


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision. Processes that start on one database at
    once (two audits, an audit and the server) migrate one after the other: the later ones find
    the schema at head and do nothing."""
    from alembic import command

    with migration_lock(engine):
        command.upgrade(alembic_config(engine), "head")


@contextmanager
def migration_lock(engine: Engine, wait_s: float = MIGRATION_LOCK_S) -> Iterator[None]:
    """Held while migrating: on PostgreSQL an advisory lock keyed by the schema, on a SQLite file an
    exclusive lock on ``<file>.migrate.lock`` beside it (nothing for an in-memory database). Waits
    at most ``wait_s`` for another process, then raises."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SET lock_timeout = '{int(wait_s * 1000)}ms'")
            key = conn.exec_driver_sql("SELECT hashtext('rxaudit.migrate:' || current_schema())").scalar_one()
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({int(key)})")
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({int(key)})")
                conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with _file_lock(Path(database).with_name(Path(database).name + ".migrate.lock"), wait_s):
        yield


@contextmanager
def _file_lock(path: Path, wait_s: float) -> Iterator[None]:
    import fcntl
    import time

    deadline = time.monotonic() + wait_s
    with open(path, "a+b") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(f"another process has been migrating {path.stem} for {wait_s:.0f} s") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session
