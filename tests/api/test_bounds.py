"""Out-of-range ids, pages, dates and oversized text are 422s (never a 500 and a traceback), on
SQLite and on PostgreSQL; text that fits is kept whole."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from database.accounts import add_user, create_api_key
from database.engine import make_engine, migrate, session_factory, transaction
from rxaudit.security import Role
from tests.api.conftest import PASSWORD, csrf_of, sign_in

HUGE = "9223372036854775808"  # 2**63: past SQLite's integers
INT4 = "2147483648"  # 2**31: past PostgreSQL's INTEGER ids
NUL = "A\x00B"
NUL_URL = "A%00B"  # the same, as it travels in a URL


@pytest.fixture
def empty_city(db_url, make_settings):
    """An empty database (either kind) with one supervisor and one city-wide API key."""
    settings = make_settings(db_url=db_url)
    engine = make_engine(db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        add_user(session, name="sup", role=Role.SUPERVISOR, password=PASSWORD, districts=[])
        key = create_api_key(session, name="wall", districts=[])[1]
    engine.dispose()
    app = create_app(settings, migrate_db=False)
    api = TestClient(app, raise_server_exceptions=False)
    api.headers["Authorization"] = f"Bearer {key}"
    user = TestClient(app, raise_server_exceptions=False)
    assert sign_in(user, "sup").status_code == 303
    yield api, user
    app.state.engine.dispose()


BAD_API = [
    f"/api/v1/flags/{HUGE}",
    f"/api/v1/flags/{INT4}",
    "/api/v1/flags/-1",
    f"/api/v1/settlements/{NUL_URL}",
    "/api/v1/settlements/" + "S" * 65,
    "/api/v1/flags?page=4611686018427387904",
    f"/api/v1/flags?page={HUGE}",
    "/api/v1/flags?page_size=100000",
    "/api/v1/flags?date_from=0001-01-01",
    "/api/v1/flags?date_to=9999-12-31",
    "/api/v1/flags?date_from=9999-12-31",
    "/api/v1/flags?min_score=nan",
    f"/api/v1/flags?district={NUL_URL}",
    f"/api/v1/flags?pharmacy_id={NUL_URL}",
    "/api/v1/flags?district=" + "D" * 65,
    "/api/v1/flags?" + "&".join(f"district=D{k}" for k in range(101)),
    "/api/v1/stats?date_from=0001-01-01",
    "/api/v1/stats?date_to=9999-12-31",
    "/api/v1/footfall?date_from=0001-01-01",
    "/api/v1/footfall?date_to=9999-12-31",
]


@pytest.mark.parametrize("url", BAD_API)
def test_api_answers_422_to_out_of_range_input(empty_city, url):
    api, _ = empty_city
    response = api.get(url)
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text


BAD_PAGES = [
    f"/flags/{HUGE}",
    f"/flags/{INT4}",
    "/flags/0",
    "/flags?page=4611686018427387904",
    "/flags?date_from=0001-01-01",
    "/flags?date_to=9999-12-31",
    f"/flags?district={NUL_URL}",
]


@pytest.mark.parametrize("url", BAD_PAGES)
def test_pages_answer_422_to_out_of_range_input(empty_city, url):
    _, user = empty_city
    response = user.get(url, headers={"Accept": "text/html"})
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text


GOOD_API = ["/api/v1/flags?page=10000&page_size=500", "/api/v1/flags?date_from=2000-01-01&date_to=2100-12-31",
            "/api/v1/flags/2147483647", "/api/v1/settlements/" + "S" * 64]


@pytest.mark.parametrize("url", GOOD_API)
def test_the_edges_of_the_ranges_still_work(empty_city, url):
    api, _ = empty_city
    assert api.get(url).status_code in (200, 404)


@pytest.mark.parametrize("form", [
    {"note": "n" * 2001},
    {"note": NUL},
    {"query": "kind=burst&" * 1000},
])
def test_bulk_verdict_refuses_oversized_or_binary_text(empty_city, form):
    _, user = empty_city
    data = {"action": "dismiss", "csrf": csrf_of(user), **form}
    response = user.post("/flags/bulk-verdict", data=data, follow_redirects=False,
                         headers={"Accept": "text/html"})
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert "text/html" in response.headers["content-type"]  # a form error page, not raw JSON


@pytest.mark.parametrize("name, password", [("n" * 65, "x"), (NUL, "x"), ("sup", "p" * 1025)])
def test_sign_in_refuses_oversized_or_binary_names(empty_city, name, password):
    _, user = empty_city
    response = sign_in(user, name, password)
    assert response.status_code == 422, (response.status_code, response.text[:300])


@pytest.mark.parametrize("url", [f"/flags/{HUGE}/verdict", f"/flags/{INT4}/verdict"])
def test_verdict_on_an_out_of_range_id_is_422(empty_city, url):
    _, user = empty_city
    response = user.post(url, data={"action": "confirm", "csrf": csrf_of(user)}, follow_redirects=False)
    assert response.status_code == 422


def test_verdict_notes_are_capped_and_kept_whole_below_the_cap(client_for, city):
    client = client_for("insp_a")
    flag = city.flags["A1"]
    too_long = client.post(f"/flags/{flag}/verdict", follow_redirects=False,
                           data={"action": "confirm", "note": "x" * 2001, "csrf": csrf_of(client)})
    assert too_long.status_code == 422
    note = "line one\nline two\t" + "é" * 1982  # 2,000 characters, ~4 KB in UTF-8
    ok = client.post(f"/flags/{flag}/verdict", follow_redirects=False,
                     data={"action": "confirm", "note": note, "csrf": csrf_of(client)})
    assert ok.status_code == 303
    history = client_for("insp_a").get(f"/flags/{flag}").text
    assert "line two\t" + "é" * 1982 + "</td>" in history  # kept whole


@pytest.mark.parametrize("url", [f"/flags/{HUGE}/clip.mp4", f"/flags/{HUGE}/keyframes/0.jpg",
                                 f"/flags/{HUGE}/export.zip", f"/flags/{INT4}/clip.mp4",
                                 f"/flags/1/keyframes/{HUGE}.jpg", "/flags/1/keyframes/-1.jpg",
                                 "/flags/0/clip.mp4"])
def test_evidence_routes_answer_422_to_out_of_range_ids(empty_city, url):
    api, _ = empty_city
    assert api.get(url).status_code == 422
