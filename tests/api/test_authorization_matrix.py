"""Role x district x route: who gets what for a flag of district A. Fails if any cell leaks."""

from __future__ import annotations

import pytest

from tests.api.conftest import csrf_of

# expected status per principal for a district-A flag; 303 = redirected to the sign-in form
GET_ROUTES = {
    "page": "/flags/{flag}",
    "api_flag": "/api/v1/flags/{flag}",
    "api_settlement": "/api/v1/settlements/{sid}",
    "keyframe": "/flags/{flag}/keyframes/0.jpg",
    "clip": "/flags/{flag}/clip.mp4",
    "export": "/flags/{flag}/export.zip",
}
EXPECTED = {
    #           page api_flag api_settlement keyframe clip export
    "insp_a":  (200, 200, 200, 200, 200, 200),
    "insp_b":  (404, 404, 404, 404, 404, 404),
    "sup":     (200, 200, 200, 200, 200, 200),
    "adm":     (200, 200, 200, 200, 200, 200),
    "key_a":   (403, 200, 200, 200, 200, 200),
    "key_b":   (403, 404, 404, 404, 404, 404),
    "key_all": (403, 200, 200, 200, 200, 200),
    None:      (303, 401, 401, 303, 303, 303),
}
CASES = [(who, route, EXPECTED[who][k]) for who in EXPECTED for k, route in enumerate(GET_ROUTES)]


@pytest.mark.parametrize("who, route, status", CASES, ids=[f"{w}-{r}" for w, r, _ in CASES])
def test_get_matrix(client_for, city, who, route, status):
    client = client_for(who)
    url = GET_ROUTES[route].format(flag=city.flags["A1"], sid="A1")
    response = client.get(url, follow_redirects=False)
    assert response.status_code == status, response.text[:200]
    if status == 404:
        assert "A1" not in response.text and "East" not in response.text
    if status == 303:
        assert response.headers["location"].startswith("/login")


@pytest.mark.parametrize("who, status", [("insp_a", 303), ("insp_b", 404), ("sup", 303), ("adm", 403)])
def test_verdict_matrix(client_for, city, who, status):
    client = client_for(who)
    response = client.post(f"/flags/{city.flags['A1']}/verdict",
                           data={"action": "confirm", "note": "n", "csrf": csrf_of(client)},
                           follow_redirects=False)
    assert response.status_code == status


@pytest.mark.parametrize("who", ["key_a", "key_all", None])
def test_keys_and_strangers_cannot_give_verdicts(client_for, city, who):
    response = client_for(who).post(f"/flags/{city.flags['A1']}/verdict",
                                    data={"action": "confirm", "csrf": "x"}, follow_redirects=False)
    assert response.status_code in (303, 403)
    if who is None:
        assert response.headers["location"].startswith("/login")


LIST_ROUTES = ["/flags", "/api/v1/flags", "/api/v1/stats", "/api/v1/footfall",
               "/api/v1/events?after_id=0&max_s=0.5", "/export.zip"]


VIEWERS = [("insp_a", {"A1"}, {"B1", "X1"}), ("insp_b", {"B1"}, {"A1", "X1"}),
           ("key_b", {"B1"}, {"A1", "X1"}), ("sup", {"A1", "B1", "X1"}, set())]
LIST_CASES = [(route, *viewer) for route in LIST_ROUTES for viewer in VIEWERS
              if not (route == "/flags" and viewer[0].startswith("key"))]  # pages are for people


@pytest.mark.parametrize("route, who, sees, hidden", LIST_CASES,
                         ids=[f"{c[1]}-{c[0]}" for c in LIST_CASES])
def test_lists_only_show_own_districts(client_for, route, who, sees, hidden):
    response = client_for(who).get(route)
    assert response.status_code == 200
    body = response.content.decode("latin-1")
    if route == "/flags":  # the settlement ids in the queue, not the page (its CSRF token is random)
        import re
        body = " ".join(re.findall(r'<a href="/flags/\d+">([^<]+)</a>', response.text))
    if route == "/export.zip":
        import io
        import zipfile
        with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
            body = " ".join(zf.read(n).decode() for n in zf.namelist() if n.endswith(".json"))
    if route == "/api/v1/stats":
        body = str(response.json()["by_pharmacy"])
        sees = {{"A1": "PH1", "B1": "PH2", "X1": "PHX"}[s] for s in sees}
        hidden = {{"A1": "PH1", "B1": "PH2", "X1": "PHX"}[s] for s in hidden}
    if route == "/api/v1/footfall":
        body = str([r["pharmacy_id"] for r in response.json()])
        sees = {{"A1": "PH1", "B1": "PH2", "X1": "PHX"}[s] for s in sees}
        hidden = {{"A1": "PH1", "B1": "PH2", "X1": "PHX"}[s] for s in hidden}
    for s in sees:
        assert s in body, (route, s)
    for s in hidden:
        assert s not in body, (route, s)


def test_revoked_key_is_refused(client_for, city):
    from database.accounts import revoke_api_key
    from database.engine import make_engine, session_factory, transaction

    client = client_for("key_a")
    assert client.get("/api/v1/flags").status_code == 200
    with transaction(session_factory(make_engine(city.settings.db_url))) as session:
        revoke_api_key(session, key_id=1)
    assert client.get("/api/v1/flags").status_code == 401
