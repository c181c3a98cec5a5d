"""``/api/v1/pharmacies``, the wall's pharmacy board: district scope for users and API keys, places
(``lat,lon``) or none, the rankings, an empty database, bounded parameters, sign-in required; and the
wall page's own words in Chinese."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from database.accounts import create_api_key
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import Pharmacy

DAY = {"date_to": "2026-11-20"}  # the city's day (T0)


def place(city, **where: tuple[float, float]) -> None:
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        for pharmacy, (lat, lon) in where.items():
            row = session.get(Pharmacy, pharmacy)
            row.lat, row.lon = lat, lon
    engine.dispose()


def board(client_for, who: str, **params) -> dict:
    response = client_for(who).get("/api/v1/pharmacies", params={**DAY, **params})
    assert response.status_code == 200, response.text
    return response.json()


def ids(rows: list[dict]) -> list[str]:
    return [r["pharmacy_id"] for r in rows]


@pytest.mark.parametrize("who, sees", [("insp_a", ["PH1"]), ("key_a", ["PH1"]), ("insp_b", ["PH2"]),
                                       ("key_b", ["PH2"]), ("sup", ["PH1", "PH2", "PHX"]),
                                       ("key_all", ["PH1", "PH2", "PHX"])])
def test_each_sees_only_its_districts(client_for, city, who, sees):
    place(city, PH1=(36.06, 103.83))
    b = board(client_for, who)
    everyone = [*b["located"], *b["unlocated"]]
    assert sorted(ids(everyone)) == sees and b["pharmacies"] == len(sees)
    assert set(ids(b["by_open_flags"])) <= set(sees) and set(ids(b["by_swipes_per_visitor"])) <= set(sees)
    assert ids(b["located"]) == (["PH1"] if "PH1" in sees else [])


def test_places_counts_and_rankings(client_for, city):
    place(city, PH2=(36.05, 103.79))
    b = board(client_for, "sup")
    assert ids(b["located"]) == ["PH2"] and b["located"][0]["lat"] == pytest.approx(36.05)
    unlocated = {r["pharmacy_id"]: r for r in b["unlocated"]}
    assert b["unlocated_total"] == 2 and set(unlocated) == {"PH1", "PHX"}
    assert unlocated["PHX"]["name"] is None and unlocated["PHX"]["district"] is None  # not registered
    assert unlocated["PH1"]["lat"] is None and unlocated["PH1"]["name"] == "East Pharmacy"
    stats = client_for("sup").get("/api/v1/stats", params={"status": "open"}).json()
    for row in [*b["located"], *b["unlocated"]]:  # open flags as /stats counts them
        assert row["open_flags"] == stats["by_pharmacy"].get(row["pharmacy_id"], 0)
    opens = [r["open_flags"] for r in b["by_open_flags"]]
    assert opens == sorted(opens, reverse=True) and all(opens)
    assert b["min_swipes"] == city.settings.footfall_alert_min_swipes
    assert b["by_swipes_per_visitor"] == []  # a handful of swipes: none ranked at 20
    assert (b["date_from"], b["date_to"]) == ("2026-10-22", "2026-11-20")


def test_the_ranking_by_swipes_per_visitor(city, make_settings):
    settings = city.settings.model_copy(update={"footfall_alert_min_swipes": 1})
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {city.keys['key_all']}"
    b = client.get("/api/v1/pharmacies", params=DAY).json()
    footfall = client.get("/api/v1/footfall", params={"date_from": b["date_from"], "date_to": "2026-11-20"}).json()
    visitors, swipes = {}, {}
    for row in footfall:
        visitors[row["pharmacy_id"]] = visitors.get(row["pharmacy_id"], 0) + row["visitors"]
        swipes[row["pharmacy_id"]] = swipes.get(row["pharmacy_id"], 0) + row["verified_settlements"]
    ranked = b["by_swipes_per_visitor"]
    assert ranked and {r["pharmacy_id"]: (r["verified_settlements"], r["visitors"]) for r in ranked} == {
        p: (swipes[p], visitors[p]) for p in swipes if swipes[p] >= 1}
    no_visitor = [r for r in ranked if r["visitors"] == 0]
    assert ranked[:len(no_visitor)] == no_visitor and all(r["swipes_per_visitor"] is None for r in no_visitor)
    ratios = [r["swipes_per_visitor"] for r in ranked[len(no_visitor):]]
    assert ratios == sorted(ratios, reverse=True)
    early = client.get("/api/v1/pharmacies", params={"date_to": "2026-11-19", "days": 1}).json()
    assert early["by_swipes_per_visitor"] == []  # the window holds no swipe


def test_an_empty_database(make_settings, tmp_path):
    settings = make_settings(db_url=f"sqlite:///{tmp_path}/empty.db")
    engine = make_engine(settings.db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        key = create_api_key(session, name="wall", districts=["A"])[1]
    engine.dispose()
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {key}"
    b = client.get("/api/v1/pharmacies").json()
    assert {k: b[k] for k in ("pharmacies", "located", "unlocated", "unlocated_total", "by_open_flags",
                              "by_swipes_per_visitor")} == {
        "pharmacies": 0, "located": [], "unlocated": [], "unlocated_total": 0, "by_open_flags": [],
        "by_swipes_per_visitor": []}


@pytest.mark.parametrize("params", [{"top": 0}, {"top": 51}, {"days": 0}, {"days": 93},
                                    {"date_to": "1900-01-01"}, {"date_to": "today"}, {"district": "B"}])
def test_parameters_are_bounded(client_for, params):
    assert client_for("key_a").get("/api/v1/pharmacies", params=params).status_code == 422


def test_sign_in_required(client_for):
    assert client_for(None).get("/api/v1/pharmacies").status_code == 401


def test_the_wall_page_speaks_chinese(client_for):
    page = client_for("insp_a").get("/wall", headers={"Accept-Language": "zh-CN"}).text
    for words in ("药店分布（按待审核疑点着色）", "待审核疑点最多的药店", "人均刷卡次数最多的药店", "全屏",
                  "客流异常（近 30 天）", "{n} 公里", "无坐标的药店"):
        assert words in page, words
    assert 'class="wallscreen"' in page
    kiosk = client_for("insp_a").get("/wall", params={"kiosk": "1"}).text
    assert 'class="wallscreen kiosk"' in kiosk
