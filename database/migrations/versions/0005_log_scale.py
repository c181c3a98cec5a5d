"""the log path at scale: indexes for the wall's lists, counts kept on write

Flags and checks carry a copy of their settlement's pharmacy and time (and checks the visit seen),
so the wall's lists need no join to filter and sort, and triggers keep per pharmacy-and-day counts
(flag_counts, footfall_days, footfall_visits) in the time zone named in aggregate_meta, so that its
counts never scan a million rows. SQLite keeps no time-zone database: its triggers use the zone's
fixed UTC offset (readers check that the zone has one; see database.aggregates).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

DEFAULT_TZ, DEFAULT_OFFSET_MIN = 'Asia/Shanghai', 480  # Settings.display_timezone's default

# -- SQLite: row triggers; the local day from the fixed offset in aggregate_meta ----------------------
_SQLITE_DAY = ("coalesce(date({t}.settled_at, (SELECT utc_offset_min FROM aggregate_meta WHERE id = 1)"
               " || ' minutes'), '')")


def _sqlite_flag_add(t: str) -> str:
    return (f"INSERT INTO flag_counts (pharmacy_id, day, kind, review_status, n) VALUES "
            f"(coalesce({t}.pharmacy_id, ''), {_SQLITE_DAY.format(t=t)}, {t}.kind, {t}.review_status, 1) "
            f"ON CONFLICT (pharmacy_id, day, kind, review_status) DO UPDATE SET n = n + 1;")


def _sqlite_flag_sub(t: str) -> str:
    return (f"UPDATE flag_counts SET n = n - 1 WHERE pharmacy_id = coalesce({t}.pharmacy_id, '') "
            f"AND day = {_SQLITE_DAY.format(t=t)} AND kind = {t}.kind AND review_status = {t}.review_status;")


def _sqlite_check_add(t: str) -> str:
    day = _SQLITE_DAY.format(t=t)
    return (f"INSERT INTO footfall_days (pharmacy_id, day, settlements, verified) VALUES "
            f"(coalesce({t}.pharmacy_id, ''), {day}, 1, {t}.status <> 'unverifiable') "
            f"ON CONFLICT (pharmacy_id, day) DO UPDATE SET settlements = settlements + 1, "
            f"verified = verified + excluded.verified;\n"
            f"INSERT INTO footfall_visits (pharmacy_id, day, visit_key, n) "
            f"SELECT coalesce({t}.pharmacy_id, ''), {day}, {t}.visit_key, 1 WHERE {t}.visit_key IS NOT NULL "
            f"ON CONFLICT (pharmacy_id, day, visit_key) DO UPDATE SET n = n + 1;")


def _sqlite_check_sub(t: str) -> str:
    day = _SQLITE_DAY.format(t=t)
    return (f"UPDATE footfall_days SET settlements = settlements - 1, "
            f"verified = verified - ({t}.status <> 'unverifiable') "
            f"WHERE pharmacy_id = coalesce({t}.pharmacy_id, '') AND day = {day};\n"
            f"UPDATE footfall_visits SET n = n - 1 WHERE {t}.visit_key IS NOT NULL "
            f"AND pharmacy_id = coalesce({t}.pharmacy_id, '') AND day = {day} AND visit_key = {t}.visit_key;")


def _changed(*columns: str) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


SQLITE_TRIGGERS = (
    f"CREATE TRIGGER trg_flag_counts_insert AFTER INSERT ON flags BEGIN {_sqlite_flag_add('NEW')} END",
    f"CREATE TRIGGER trg_flag_counts_delete AFTER DELETE ON flags BEGIN {_sqlite_flag_sub('OLD')} END",
    f"CREATE TRIGGER trg_flag_counts_update AFTER UPDATE OF pharmacy_id, settled_at, kind, review_status "
    f"ON flags WHEN {_changed('pharmacy_id', 'settled_at', 'kind', 'review_status')} "
    f"BEGIN {_sqlite_flag_sub('OLD')} {_sqlite_flag_add('NEW')} END",
    f"CREATE TRIGGER trg_footfall_insert AFTER INSERT ON checks BEGIN {_sqlite_check_add('NEW')} END",
    f"CREATE TRIGGER trg_footfall_delete AFTER DELETE ON checks BEGIN {_sqlite_check_sub('OLD')} END",
    f"CREATE TRIGGER trg_footfall_update AFTER UPDATE OF pharmacy_id, settled_at, status, visit_key "
    f"ON checks WHEN {_changed('pharmacy_id', 'settled_at', 'status', 'visit_key')} "
    f"BEGIN {_sqlite_check_sub('OLD')} {_sqlite_check_add('NEW')} END",
)

# -- PostgreSQL: statement triggers over transition tables; the zone by name -------------------------
_PG_DAY = "coalesce(to_char({t}.settled_at AT TIME ZONE tz, 'YYYY-MM-DD'), '')"

PG_FUNCTIONS = (
    f"""CREATE FUNCTION rx_flag_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE tz text := (SELECT timezone FROM aggregate_meta WHERE id = 1);
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE flag_counts c SET n = c.n - d.k
    FROM (SELECT coalesce(o.pharmacy_id, '') AS pharmacy_id, {_PG_DAY.format(t='o')} AS day,
                 o.kind, o.review_status, count(*) AS k FROM old_rows o GROUP BY 1, 2, 3, 4) d
    WHERE c.pharmacy_id = d.pharmacy_id AND c.day = d.day AND c.kind = d.kind
      AND c.review_status = d.review_status;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO flag_counts (pharmacy_id, day, kind, review_status, n)
    SELECT coalesce(o.pharmacy_id, ''), {_PG_DAY.format(t='o')}, o.kind, o.review_status, count(*)
    FROM new_rows o GROUP BY 1, 2, 3, 4
    ON CONFLICT (pharmacy_id, day, kind, review_status) DO UPDATE SET n = flag_counts.n + EXCLUDED.n;
  END IF;
  RETURN NULL;
END $$""",
    f"""CREATE FUNCTION rx_footfall() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE tz text := (SELECT timezone FROM aggregate_meta WHERE id = 1);
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE footfall_days f SET settlements = f.settlements - d.k, verified = f.verified - d.v
    FROM (SELECT coalesce(o.pharmacy_id, '') AS pharmacy_id, {_PG_DAY.format(t='o')} AS day, count(*) AS k,
                 sum((o.status <> 'unverifiable')::int) AS v FROM old_rows o GROUP BY 1, 2) d
    WHERE f.pharmacy_id = d.pharmacy_id AND f.day = d.day;
    UPDATE footfall_visits f SET n = f.n - d.k
    FROM (SELECT coalesce(o.pharmacy_id, '') AS pharmacy_id, {_PG_DAY.format(t='o')} AS day, o.visit_key,
                 count(*) AS k FROM old_rows o WHERE o.visit_key IS NOT NULL GROUP BY 1, 2, 3) d
    WHERE f.pharmacy_id = d.pharmacy_id AND f.day = d.day AND f.visit_key = d.visit_key;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO footfall_days (pharmacy_id, day, settlements, verified)
    SELECT coalesce(o.pharmacy_id, ''), {_PG_DAY.format(t='o')}, count(*), sum((o.status <> 'unverifiable')::int)
    FROM new_rows o GROUP BY 1, 2
    ON CONFLICT (pharmacy_id, day) DO UPDATE SET settlements = footfall_days.settlements + EXCLUDED.settlements,
      verified = footfall_days.verified + EXCLUDED.verified;
    INSERT INTO footfall_visits (pharmacy_id, day, visit_key, n)
    SELECT coalesce(o.pharmacy_id, ''), {_PG_DAY.format(t='o')}, o.visit_key, count(*)
    FROM new_rows o WHERE o.visit_key IS NOT NULL GROUP BY 1, 2, 3
    ON CONFLICT (pharmacy_id, day, visit_key) DO UPDATE SET n = footfall_visits.n + EXCLUDED.n;
  END IF;
  RETURN NULL;
END $$""",
)
PG_TRIGGERS = tuple(
    f"CREATE TRIGGER trg_{name}_{op.lower()} AFTER {op} ON {table} "
    + {"INSERT": "REFERENCING NEW TABLE AS new_rows", "DELETE": "REFERENCING OLD TABLE AS old_rows",
       "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"}[op]
    + f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    for name, table, function in (("flag_counts", "flags", "rx_flag_counts"),
                                  ("footfall", "checks", "rx_footfall"))
    for op in ("INSERT", "UPDATE", "DELETE"))
TRIGGER_NAMES = tuple(f"trg_{name}_{op}" for name in ("flag_counts", "footfall")
                      for op in ("insert", "update", "delete"))


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    with op.batch_alter_table('flags') as batch:
        batch.add_column(sa.Column('pharmacy_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True))
        batch.drop_index('ix_flags_kind')
        batch.create_index('ix_flags_settled_at_id', ['settled_at', 'id'], unique=False)
        batch.create_index('ix_flags_kind_settled_at', ['kind', 'settled_at', 'id'], unique=False)
        batch.create_index('ix_flags_pharmacy_settled_at', ['pharmacy_id', 'settled_at', 'id'], unique=False)
        batch.create_index('ix_flags_score_id', ['score', 'id'], unique=False)
    with op.batch_alter_table('checks') as batch:
        batch.add_column(sa.Column('pharmacy_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('visit_key', sa.String(length=255), nullable=True))
    op.create_table(
        'flag_counts',
        sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('review_status', sa.String(length=16), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('pharmacy_id', 'day', 'kind', 'review_status'))
    op.create_table(
        'footfall_days',
        sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('settlements', sa.Integer(), nullable=False),
        sa.Column('verified', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('pharmacy_id', 'day'))
    op.create_table(
        'footfall_visits',
        sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('visit_key', sa.String(length=255), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('pharmacy_id', 'day', 'visit_key'))
    meta = op.create_table(
        'aggregate_meta',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('utc_offset_min', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.bulk_insert(meta, [{'id': 1, 'timezone': DEFAULT_TZ, 'utc_offset_min': DEFAULT_OFFSET_MIN}])

    # copies of the settlement's columns for the rows already there, then the counts from them
    for table in ('flags', 'checks'):
        op.execute(f"UPDATE {table} SET "
                   f"pharmacy_id = (SELECT s.pharmacy_id FROM settlements s WHERE s.settlement_id = {table}.settlement_id), "
                   f"settled_at = (SELECT s.settled_at FROM settlements s WHERE s.settlement_id = {table}.settlement_id)")
    from database.aggregates import rebuild_counts, visit_key

    rows = bind.execute(sa.text("SELECT c.settlement_id, s.counter_id, c.seen FROM checks c "
                                "JOIN settlements s ON s.settlement_id = c.settlement_id")).all()
    keys = [{'k': key, 'sid': sid} for sid, counter, seen in rows if (key := visit_key(counter, seen))]
    if keys:
        bind.execute(sa.text("UPDATE checks SET visit_key = :k WHERE settlement_id = :sid"), keys)
    if dialect == 'postgresql':
        for statement in (*PG_FUNCTIONS, *PG_TRIGGERS):
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    rebuild_counts(bind, DEFAULT_TZ)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for name in TRIGGER_NAMES:
            table = 'flags' if name.startswith('trg_flag') else 'checks'
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS rx_flag_counts()")
        op.execute("DROP FUNCTION IF EXISTS rx_footfall()")
    else:
        for name in TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('aggregate_meta')
    op.drop_table('footfall_visits')
    op.drop_table('footfall_days')
    op.drop_table('flag_counts')
    with op.batch_alter_table('checks') as batch:
        batch.drop_column('visit_key')
        batch.drop_column('settled_at')
        batch.drop_column('pharmacy_id')
    with op.batch_alter_table('flags') as batch:
        batch.drop_index('ix_flags_score_id')
        batch.drop_index('ix_flags_pharmacy_settled_at')
        batch.drop_index('ix_flags_kind_settled_at')
        batch.drop_index('ix_flags_settled_at_id')
        batch.create_index('ix_flags_kind', ['kind'], unique=False)
        batch.drop_column('settled_at')
        batch.drop_column('pharmacy_id')
