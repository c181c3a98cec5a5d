"""A PostgreSQL connection cut under the server (a restart, a failover; here the server ends the
backend, as a restart does): the request it cut is 'busy' (503 with Retry-After, sent again safely),
and the next request gets a fresh connection (the pool pings before use), on a real server."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from database.engine import make_engine
from rxaudit.errors import database_busy


@pytest.fixture
def pg(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL server's connection")
    return db_url


def _end_backend(url: str, pid: int) -> None:
    admin = make_engine(url)
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) is True
    admin.dispose()


def test_a_connection_ended_by_the_server_under_a_request_reads_as_busy(pg):
    engine = make_engine(pg)
    with engine.connect() as conn:
        _end_backend(pg, conn.scalar(text("SELECT pg_backend_pid()")))
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text("SELECT 1"))
    assert database_busy(caught.value)
    engine.dispose()


def test_after_the_server_ended_a_pooled_connection_the_next_request_gets_a_fresh_one(pg):
    engine = make_engine(pg)
    with engine.connect() as conn:
        first = conn.scalar(text("SELECT pg_backend_pid()"))
    _end_backend(pg, first)  # the pooled connection is dead now
    with engine.connect() as conn:  # pinged when taken, replaced: no error reaches the request
        assert conn.scalar(text("SELECT pg_backend_pid()")) != first
    engine.dispose()
