"""A database held by another writer (a big audit on SQLite, a lock on PostgreSQL): sign-in and
verdicts answer 503 with Retry-After, never a 500, and the same request succeeds once the lock is gone."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from api.app import LOCK_TIMEOUT_MS, create_app
from database.accounts import add_user
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import Verdict
from rxaudit.errors import database_busy
from rxaudit.security import Role
from tests.api.conftest import PASSWORD, csrf_of, sign_in


def short_lock_waits(app) -> None:
    """The app's connections give up on a held lock after 0.2 s instead of the server's 5 s."""
    engine = app.state.engine

    @event.listens_for(engine, "connect")
    def _short(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=200" if engine.dialect.name == "sqlite" else "SET lock_timeout = 200")
        cursor.close()
        if engine.dialect.name != "sqlite":
            dbapi_conn.commit()

    engine.dispose()  # pooled connections were made with the long wait


@contextmanager
def sqlite_writer(path: str) -> Iterator[None]:
    """Another process's write transaction, as an audit holds it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def login_form(client: TestClient) -> dict[str, str]:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return {"name": "sup", "password": PASSWORD, "csrf": csrf}


def assert_busy(response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert int(response.headers["Retry-After"]) >= 1
    assert "Traceback" not in response.text and "locked" not in response.text


def test_sign_in_and_a_verdict_wait_for_an_audits_write_lock_on_sqlite(city, client_for, app):
    client = client_for("insp_a")
    flag = city.flags["A1"]
    form = {"action": "confirm", "csrf": csrf_of(client), "note": "seen"}
    short_lock_waits(app)
    other = TestClient(app, raise_server_exceptions=False)
    login = login_form(other)
    lenient = TestClient(app, raise_server_exceptions=False, cookies=client.cookies)
    with sqlite_writer(city.settings.db_url.removeprefix("sqlite:///")):
        assert_busy(other.post("/login", data=login, follow_redirects=False))
        assert_busy(lenient.post(f"/flags/{flag}/verdict", data=form, follow_redirects=False))
        html = lenient.post(f"/flags/{flag}/verdict", data=form,
                            headers={"Accept": "text/html", "Accept-Language": "zh-CN"})
        assert_busy(html)
        assert "数据库正忙" in html.text  # the error page says so in the reader's language
    assert other.post("/login", data=login, follow_redirects=False).status_code == 303
    assert lenient.post(f"/flags/{flag}/verdict", data=form, follow_redirects=False).status_code == 303
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        saved = [(v.flag_id, v.action, v.note) for v in session.scalars(select(Verdict))]
    engine.dispose()
    assert saved == [(flag, "confirm", "seen")]  # the retry saved it, once


@pytest.mark.parametrize("accept", [None, "*/*", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_a_busy_sign_in_form_gets_the_translated_error_page(city, app, accept):
    """The sign-in form is posted by the browser itself, whatever Accept it sends: a 503 there is
    the error page in the reader's language, never raw JSON."""
    short_lock_waits(app)
    client = TestClient(app, raise_server_exceptions=False)
    login = login_form(client)
    headers = {"Accept-Language": "zh-CN"} | ({"Accept": accept} if accept else {})
    with sqlite_writer(city.settings.db_url.removeprefix("sqlite:///")):
        page = client.post("/login", data=login, follow_redirects=False, headers=headers)
    assert_busy(page)
    assert page.headers["content-type"].startswith("text/html") and "数据库正忙" in page.text


@pytest.fixture
def pg_app(db_url, make_settings):
    """PostgreSQL only: the app over a database with the supervisor "sup"."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite: busy_timeout, above")
    engine = make_engine(db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        add_user(session, name="sup", role=Role.SUPERVISOR, password=PASSWORD, districts=[])
    engine.dispose()
    app = create_app(make_settings(db_url=db_url), migrate_db=False)
    yield app
    app.state.engine.dispose()


def pg_connection(db_url: str):
    """Another connection to the test's schema (as a long audit's transaction holds one)."""
    import psycopg

    options = re.search(r"options=(.*)$", db_url).group(1).replace("%3D", "=")
    return psycopg.connect(db_url.split("?")[0], options=options)


def test_sign_in_waits_for_a_table_lock_on_postgresql(db_url, pg_app):
    short_lock_waits(pg_app)
    client = TestClient(pg_app, raise_server_exceptions=False)
    login = login_form(client)
    with pg_connection(db_url) as holder:
        holder.execute("LOCK TABLE login_sessions IN EXCLUSIVE MODE")
        assert_busy(client.post("/login", data=login, follow_redirects=False))
        holder.rollback()
    assert sign_in(client, "sup").status_code == 303


def test_the_server_gives_up_on_a_held_postgresql_lock_after_its_lock_timeout(db_url, pg_app):
    """No test-only shortening: the server's own connections carry lock_timeout, so a request behind
    a long transaction's lock answers 503 after about LOCK_TIMEOUT_MS, not when the holder ends."""
    client = TestClient(pg_app, raise_server_exceptions=False)
    login = login_form(client)
    holder = pg_connection(db_url)
    holder.execute("LOCK TABLE login_sessions IN EXCLUSIVE MODE")
    release = threading.Timer(LOCK_TIMEOUT_MS / 1000 * 4, holder.rollback)  # the old server waited for this
    release.start()
    try:
        started = time.monotonic()
        answer = client.post("/login", data=login, follow_redirects=False)
        waited = time.monotonic() - started
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
    assert_busy(answer)
    assert LOCK_TIMEOUT_MS / 1000 * 0.9 <= waited < LOCK_TIMEOUT_MS / 1000 * 2, waited
    assert sign_in(client, "sup").status_code == 303


class FakeDriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class Wrapped(Exception):
    def __init__(self, orig: BaseException) -> None:
        super().__init__(str(orig))
        self.orig = orig


@pytest.mark.parametrize(("error", "busy"), [
    (sqlite3.OperationalError("database is locked"), True),
    (sqlite3.OperationalError("database table is locked"), True),
    (Wrapped(sqlite3.OperationalError("database is locked")), True),
    (FakeDriverError("canceling statement due to lock timeout", "55P03"), True),
    (FakeDriverError("could not serialize access", "40001"), True),
    (FakeDriverError("deadlock detected", "40P01"), True),
    (FakeDriverError("terminating connection due to administrator command", "57P01"), True),
    (FakeDriverError("the database system is starting up", "57P03"), True),
    (FakeDriverError("connection failure", "08006"), True),
    (sqlite3.OperationalError("no such table: flags"), False),
    (sqlite3.OperationalError("disk I/O error"), False),
    (FakeDriverError("relation does not exist", "42P01"), False),
    (ValueError("database is locked"), False),  # not a driver's error
])
def test_which_database_errors_mean_busy(error, busy):
    assert database_busy(error) is busy


def test_the_review_page_sends_a_verdict_again_when_the_database_was_busy(city, app, server, browser, client_for):
    from tests.api.test_review_flow_browser import api_status, signed_in

    short_lock_waits(app)
    page = signed_in(browser, server, "insp_a", lang="en")
    a1 = city.flags["A1"]
    page.goto(f"{server}/flags/{a1}")
    with sqlite_writer(city.settings.db_url.removeprefix("sqlite:///")):
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press("c")
        page.wait_for_selector("#undo-text:has-text('busy')", timeout=15000)  # posted after the undo window
        assert "not saved yet" in page.inner_text("#undo-text") and api_status(client_for, a1) == "open"
    page.wait_for_url(lambda url: f"/flags/{a1}" not in url, timeout=20000)  # sent again, then the next flag
    assert api_status(client_for, a1) == "confirmed"
    assert page.errors == []
