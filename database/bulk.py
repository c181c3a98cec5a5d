"""Bulk writes on PostgreSQL with ``COPY ... FROM STDIN`` (psycopg 3).

Through SQLAlchemy's ``executemany`` psycopg sends one INSERT per row, and each one fires the kept
counts' statement triggers (migration 0005) once: a city's month is millions of each.
Here a chunk is one COPY into a temporary staging table and one ``INSERT ... SELECT`` from it (the
triggers fire once), or, for a plain append, one COPY into the table itself.

The staging table has the target's columns without its limits (strings as ``text``, JSON as its
text), so a value the schema refuses fails in the ``INSERT ... SELECT`` with the same ``DataError``
as the statement path (``database.guarded`` sorts it); an error in the COPY itself is raised as
SQLAlchemy's wrapper of the driver's error too.

On SQLite (:func:`insert_many`) a chunk of new rows goes straight to the driver's ``executemany``,
each value through its column's own bind processing (the same text SQLAlchemy would bind), without
SQLAlchemy's per-row parameter work (a city's month: millions of rows, where that work cost more
than SQLite's own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, MetaData, Select, Table, cast, select
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from database import json_codec
from database.models import UTCDateTime

COPY_MIN_ROWS = 200  # fewer rows than this go through plain statements (a temp table costs a few ms)
ANALYZE_STAGE_MIN = 20_000  # a staging table this big gets statistics before it is joined


def wanted(session: Session, rows: int) -> bool:
    """Whether ``rows`` rows are written through COPY here (PostgreSQL, enough of them)."""
    return rows >= COPY_MIN_ROWS and session.get_bind().dialect.name == "postgresql"


def direct(session: Session, rows: int) -> bool:
    """Whether ``rows`` new rows are inserted through the driver here (SQLite, enough of them:
    :func:`insert_many`)."""
    return rows >= COPY_MIN_ROWS and session.get_bind().dialect.name == "sqlite"


def insert_many(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` (dicts with the same keys) into ``table`` by one plain INSERT executed many times by
    the driver, each value bound as SQLAlchemy binds it for the column (its type's bind processor:
    times as UTC text, JSON through the engine's serializer, numbers as floats); a time shared by
    many rows (``checked_at``, a settlement's time in its check and flags) is converted once. A
    value the database refuses raises SQLAlchemy's wrapper of the driver's error, as a statement
    does."""
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    by_column = []
    for name in columns:
        process = table.c[name].type._cached_bind_processor(dialect)
        if process is None:
            by_column.append([row[name] for row in rows])
            continue
        if isinstance(table.c[name].type, UTCDateTime):
            process = _memo(process)
        by_column.append([process(row[name]) for row in rows])
    session.connection().exec_driver_sql(sql, list(zip(*by_column)))


def _memo(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` remembered by value (an aware time's bound text depends on its instant only)."""
    done: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        try:
            return done[value]
        except KeyError:
            found = done[value] = process(value)
            return found
        except TypeError:  # unhashable: as it is
            return process(value)
    return remembered


# a column's type: its staging type (the same without limits) and what binary COPY sends for it;
# the first that matches, in this order (a Float is a Numeric, a BigInteger an Integer)
_KINDS: tuple[tuple[type, sqltypes.TypeEngine, str], ...] = (
    (sqltypes.DateTime, sqltypes.DateTime(timezone=True), "timestamptz"),
    (sqltypes.Float, sqltypes.Float(), "float8"),
    (sqltypes.Numeric, sqltypes.Numeric(), "numeric"),
    (sqltypes.BigInteger, BigInteger(), "int8"),
    (sqltypes.Integer, BigInteger(), "int4"),
    (sqltypes.LargeBinary, sqltypes.LargeBinary(), "bytea"),
    (sqltypes.Boolean, sqltypes.Boolean(), "bool"),
)
_TEXT = (sqltypes.Text(), "text")  # strings, and JSON as its text


def _kind(column: Column) -> tuple[sqltypes.TypeEngine, str]:
    kind = column.type.impl if isinstance(column.type, UTCDateTime) else column.type
    return next(((stage_type, name) for cls, stage_type, name in _KINDS if isinstance(kind, cls)), _TEXT)


def _converter(column: Column) -> Callable[[Any], Any] | None:
    """How COPY must get a value of ``column`` so that it is stored as the column's own bind
    processing stores it (None: as it is): JSON as the codec's text (None as JSON ``null``); a
    naive time refused (ValueError), as :class:`database.models.UTCDateTime` refuses it (an aware
    one is sent as it is: PostgreSQL keeps the instant)."""
    if isinstance(column.type, JSON):
        return json_codec.dumps
    if isinstance(column.type, UTCDateTime):
        return _aware
    return None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value


def copy_rows(session: Session, into: Table, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
              *, ordinal: bool = False) -> None:
    """Binary ``COPY into (columns) FROM STDIN`` of ``rows`` (values in the order of ``columns``, the
    columns they are for), each value as its column stores it; ``ordinal``: the row's position in
    ``into``'s ``ord`` column too."""
    converters = [(n, f) for n, c in enumerate(columns) if (f := _converter(c)) is not None]

    def converted() -> Iterable[Sequence[Any]]:
        for position, row in enumerate(rows):
            values = list(row)
            for n, convert in converters:
                values[n] = convert(values[n])
            yield [position, *values] if ordinal else values

    names = [*(["ord"] if ordinal else []), *(c.name for c in columns)]
    _copy(session, into, names, converted() if converters or ordinal else rows)


def _copy(session: Session, into: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``rows``, each value already as COPY must get it, into ``into``'s columns ``names``."""
    sql = f"COPY {into.name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    types = [_kind(into.c[name])[1] for name in names]
    driver = session.connection().connection.dbapi_connection
    import psycopg

    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(types)
            write = copy.write_row
            for row in rows:
                write(row)
    except psycopg.Error as exc:  # as the statement path raises it (DataError, IntegrityError, ...)
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


def append(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` (dicts with the same keys) straight into ``table`` by COPY (each column's values
    converted at once, before the COPY starts)."""
    columns = list(rows[0])
    by_column = []
    for name in columns:
        convert = _converter(table.c[name])
        by_column.append([row[name] for row in rows] if convert is None else [convert(row[name]) for row in rows])
    _copy(session, table, columns, zip(*by_column))


def stage(session: Session, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Table:
    """A fresh temporary ``rx_stage_<table>`` (dropped at commit) holding ``rows`` in ``columns``
    and ``ord`` (their position); returns it."""
    staged = Table(f"rx_stage_{table.name}", MetaData(), Column("ord", BigInteger),
                   *(Column(name, _kind(table.c[name])[0]) for name in columns),
                   prefixes=["TEMPORARY"], postgresql_on_commit="drop")
    connection = session.connection()
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {staged.name}")
    staged.create(connection)
    copy_rows(session, staged, [table.c[name] for name in columns],
              ([row[name] for name in columns] for row in rows), ordinal=True)
    if len(rows) >= ANALYZE_STAGE_MIN:
        connection.exec_driver_sql(f"ANALYZE {staged.name}")
    return staged


def source(staged: Table, table: Table, columns: Sequence[str]) -> Select:
    """``SELECT columns FROM staged ORDER BY ord``, JSON cast back to JSON: rows for ``table`` in
    the order given (serial ids as the statement path assigns them)."""
    picked = [cast(staged.c[name], table.c[name].type) if isinstance(table.c[name].type, JSON)
              else staged.c[name] for name in columns]
    return select(*picked).order_by(staged.c.ord)


# tables a big run appends to whose secondary indexes SQLite builds faster from the rows, sorted,
# than entry by entry (a city's month: a million settlements, checks and flags, each index entry a
# random page); sold_trace_codes keeps its own (a re-audit deletes by settlement through it)
DEFER_INDEX_TABLES = ("settlements", "checks", "flags")


class BulkIndexes:
    """SQLite only, within one write transaction: :meth:`suspend` drops the plain (not UNIQUE)
    indexes of :data:`DEFER_INDEX_TABLES` and :meth:`restore` creates them again from the very
    statements it dropped (``sqlite_master``'s), before each commit. DDL is transactional in SQLite,
    so no other connection ever sees a table without them, and a crash or a rollback brings them
    back; the unique ones (the keys every write and look-up of the run goes through) stay."""

    def __init__(self, session: Session, *, enabled: bool) -> None:
        self.session = session
        self.enabled = enabled and session.get_bind().dialect.name == "sqlite"
        self.dropped: list[str] = []

    def suspend(self) -> None:
        if not self.enabled or self.dropped:
            return
        tables = ", ".join(f"'{name}'" for name in DEFER_INDEX_TABLES)
        connection = self.session.connection()
        rows = connection.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({tables}) "
            "AND sql IS NOT NULL ORDER BY name").all()
        rows = [(name, sql) for name, sql in rows if not sql.lstrip().upper().startswith("CREATE UNIQUE")]
        for name, _sql in rows:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
        self.dropped = [sql for _name, sql in rows]

    def restore(self) -> None:
        if not self.dropped:
            return
        connection = self.session.connection()
        for sql in self.dropped:
            connection.exec_driver_sql(sql)
        self.dropped = []


KEYS_LOCK_TIMEOUT = "5s"  # how long a big write waits for the locks to suspend foreign keys


@contextmanager
def foreign_keys_suspended(session: Session, table: Table, *, enabled: bool) -> Iterator[bool]:
    """PostgreSQL, a big append to ``table`` in the caller's transaction: the table's foreign keys
    dropped for the block and added again at its end, each validated by one join of the tables
    instead of a look-up and a row lock in the referenced table for every row written (a city's
    month: millions of traceability codes, most of the write's time). Yields whether they are.

    DDL is transactional: no other connection ever sees the table without its keys, a rollback
    brings them back, and a row without its referenced one fails the block's end with the same
    ``IntegrityError`` (a foreign key violation) as its insert would have. While suspended, the
    table and the referenced ones are locked (ACCESS EXCLUSIVE) until the caller's transaction
    ends: readers wait. The locks are waited for ``KEYS_LOCK_TIMEOUT`` at most; past that (someone
    holds them), the block runs with the keys in place. An error inside the block leaves the keys
    to the caller's rollback (the transaction must not be committed then)."""
    if not enabled or session.get_bind().dialect.name != "postgresql":
        yield False
        return
    connection = session.connection()
    keys = connection.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %(t)s::regclass AND contype = 'f' ORDER BY conname", {"t": table.name}).all()
    if not keys:
        yield False
        return
    quote = session.get_bind().dialect.identifier_preparer.quote
    waited = connection.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar_one()
    try:
        with session.begin_nested():
            connection = session.connection()  # (the SAVEPOINT is emitted here)
            connection.exec_driver_sql("SELECT set_config('lock_timeout', %(t)s, true)", {"t": KEYS_LOCK_TIMEOUT})
            connection.exec_driver_sql(f"ALTER TABLE {quote(table.name)} "
                                       + ", ".join(f"DROP CONSTRAINT {quote(name)}" for name, _ in keys))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available: written as it is
            raise
        connection.exec_driver_sql("SELECT set_config('lock_timeout', %(t)s, true)", {"t": waited})
        yield False
        return
    connection.exec_driver_sql("SELECT set_config('lock_timeout', %(t)s, true)", {"t": waited})
    yield True
    connection.exec_driver_sql(f"ALTER TABLE {quote(table.name)} "
                               + ", ".join(f"ADD CONSTRAINT {quote(name)} {definition}" for name, definition in keys))
