"""Processes that start on one new database at once (two audits, an audit and the server) all
migrate it without error: one migrates, the others wait and find it at head."""

from __future__ import annotations

import multiprocessing as mp

from sqlalchemy import inspect

from database.engine import make_engine, migrate

PROCESSES = 4


def _migrate(url: str, start, results) -> None:
    engine = make_engine(url)
    start.wait(30)
    try:
        migrate(engine)
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the test reports what failed
        results.put(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()


def test_processes_migrating_one_new_database_at_once_all_succeed(db_url):
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [ctx.Process(target=_migrate, args=(db_url, start, results)) for _ in range(PROCESSES)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    outcomes = sorted(results.get(timeout=5) for _ in workers)
    assert outcomes == ["ok"] * PROCESSES
    engine = make_engine(db_url)
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    assert len(version) == 1 and "flags" in inspect(engine).get_table_names()
    engine.dispose()
