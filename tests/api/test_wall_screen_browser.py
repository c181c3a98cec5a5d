"""The wall as a monitoring-wall screen in a real browser (Debian chromium via Playwright, zh-CN) at
1920x1080 with a city's worth of data (50 pharmacies, 1,000 flags, footfall): nothing scrolls, the
map has one mark per placed pharmacy of the viewer's districts, the rankings are in the order the
rows give, and full screen or ``?kiosk=1`` hides the chrome. Screenshots go to test-artifacts/."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from api.app import create_app
from database import repository
from database.accounts import add_user
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import CheckRow, FlagRow, Pharmacy
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind
from rxaudit.security import Role
from tests.api.conftest import PASSWORD, running
from tests.conftest import ROOT
from tests.factories import settlement

ARTIFACTS = ROOT / "test-artifacts"
TZ = ZoneInfo("Asia/Shanghai")
WALL = {"width": 1920, "height": 1080}
DISTRICTS = {"城关区": (36.055, 103.83, 20), "七里河区": (36.065, 103.76, 15), "安宁区": (36.10, 103.71, 15)}
BRANDS = ["德仁堂", "惠民", "康泰", "百姓", "同仁", "济生", "回春", "万家", "安康", "众友", "华润", "益民"]
KINDS = [(FlagKind.NO_CUSTOMER, 30), (FlagKind.UNVERIFIABLE, 22), (FlagKind.GOODS_MISMATCH, 10),
         (FlagKind.BURST, 10), (FlagKind.CARD_POOLING, 8), (FlagKind.DUPLICATE_SETTLEMENT, 6),
         (FlagKind.OFF_HOURS, 6), (FlagKind.STOCK_SHORTFALL, 5), (FlagKind.TRACE_CODE_REUSE, 3)]


def build_wall_city(db_url: str, *, flags: int = 1000, seed: int = 26) -> None:
    """50 pharmacies in three districts (five without a place), ``flags`` flags over the last 30
    days (reviewed more often the older they are), and clean swipes with their visitors: a few
    pharmacies swipe many cards per visitor. Five more flags at a pharmacy the registry lacks."""
    rng = random.Random(seed)
    engine = make_engine(db_url)
    migrate(engine)
    today = datetime.now(TZ).date()
    with transaction(session_factory(engine)) as session:
        pharmacies = []
        for district, (lat, lon, n) in DISTRICTS.items():
            for k in range(n):
                pid = f"P{len(pharmacies) + 1:03d}"
                name = (f"甘肃{BRANDS[k % 12]}医药连锁有限公司{district}第{k + 1}分店" if k % 7 == 3
                        else f"{BRANDS[(k + len(district)) % 12]}大药房（{district[:2]}{k + 1}店）")
                placed = k % 10 != 9  # five have no lat, lon
                session.add(Pharmacy(pharmacy_id=pid, name=name, district=district,
                                     lat=lat + rng.uniform(-0.035, 0.035) if placed else None,
                                     lon=lon + rng.uniform(-0.05, 0.05) if placed else None))
                pharmacies.append(pid)
        for name, role, districts in (("sup", Role.SUPERVISOR, []), ("insp", Role.INSPECTOR, ["城关区"])):
            add_user(session, name=name, role=role, password=PASSWORD, districts=districts)
        run = repository.start_run(session, settlements_file="month.csv", videos="store")
        weight = [rng.paretovariate(1.3) for _ in pharmacies]
        heavy = set(rng.sample(pharmacies, 4))  # many swipes per visitor
        results, n = [], 0

        def at(days_ago: int) -> datetime:
            day = today - timedelta(days=days_ago)
            return datetime.combine(day, time(8), tzinfo=TZ) + timedelta(seconds=rng.randrange(13 * 3600))

        for _ in range(flags):
            n += 1
            pid = rng.choices(pharmacies, weight)[0]
            kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
            s = settlement(n, at=at(rng.randrange(30)), pharmacy=pid, counter=f"C{n % 3 + 1}")
            status = CheckStatus.UNVERIFIABLE if kind == FlagKind.UNVERIFIABLE else CheckStatus.FLAGGED
            results.append(CheckResult(s, status, (Flag(s.settlement_id, kind, round(rng.uniform(0.5, 1), 2),
                                                         "reason"),), {}))
        for k in range(5):  # a pharmacy the registry does not know: no district, seen by supervisors only
            n += 1
            s = settlement(n, at=at(k), pharmacy="P999", counter="C1")
            results.append(CheckResult(s, CheckStatus.FLAGGED, (Flag(s.settlement_id, FlagKind.NO_CUSTOMER, 0.9,
                                                                      "reason"),), {}))
        for pid in pharmacies:
            per_visit = 5 if pid in heavy else 1
            for visit in range(rng.randrange(20, 60)):
                when = at(rng.randrange(30))
                for _ in range(per_visit if pid in heavy else rng.choice((1, 1, 1, 2))):
                    n += 1
                    s = settlement(n, at=when, pharmacy=pid, counter="C1")
                    seen = {"visit": {"track_id": visit, "start": when.isoformat()}}
                    results.append(CheckResult(s, CheckStatus.CLEAN, (), seen))
        repository.save_results(session, run_id=run, results=results)
    with transaction(session_factory(engine)) as session:  # verdicts: the older, the more reviewed
        for flag in session.scalars(select(FlagRow)):
            age = (today - flag.settled_at.astimezone(TZ).date()).days
            if age > 3 and rng.random() < 0.25 + age / 60:
                flag.review_status = rng.choices(["confirmed", "dismissed", "escalated"], [4, 5, 1])[0]
    engine.dispose()


def expected(db_url: str, districts: set[str] | None, min_swipes: int) -> dict:
    """The rows themselves, counted here without the app: placed pharmacies, and the top ten by open
    flags and by swipes per visitor (last 30 days, a visitor counted once a day)."""
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        registry = {p.pharmacy_id: p for p in session.scalars(select(Pharmacy))
                    if districts is None or p.district in districts}
        if districts is None:  # flags at pharmacies the registry does not know: visible to supervisors
            for pid in session.scalars(select(FlagRow.pharmacy_id).distinct()):
                registry.setdefault(pid, Pharmacy(pharmacy_id=pid, name=None, district=None))
        open_, all_ = Counter(), Counter()
        for pid, status in session.execute(select(FlagRow.pharmacy_id, FlagRow.review_status)):
            if pid in registry:
                all_[pid] += 1
                open_[pid] += status == "open"
        first = datetime.now(TZ).date() - timedelta(days=29)
        swipes, visits = Counter(), defaultdict(set)
        for pid, at, status, key in session.execute(select(CheckRow.pharmacy_id, CheckRow.settled_at,
                                                           CheckRow.status, CheckRow.visit_key)):
            day = at.astimezone(TZ).date()
            if pid in registry and day >= first:
                swipes[pid] += status != "unverifiable"
                if key:
                    visits[pid].add((day, key))
    engine.dispose()
    by_open = sorted((p for p in registry if open_[p]), key=lambda p: (-open_[p], -all_[p], p))[:10]
    judged = [p for p in registry if swipes[p] >= min_swipes]
    ratio = {p: swipes[p] / len(visits[p]) if visits[p] else None for p in judged}
    by_ratio = sorted(judged, key=lambda p: (ratio[p] is not None, -(ratio[p] or 0), -swipes[p], p))[:10]
    return {"placed": sorted(p for p, row in registry.items() if row.lat is not None),
            "unplaced": sorted(p for p, row in registry.items() if row.lat is None),
            "by_open": by_open, "by_ratio": by_ratio}


@pytest.fixture
def wall_city(make_settings, tmp_path):
    settings = make_settings(db_url=f"sqlite:///{tmp_path}/wall.db")
    build_wall_city(settings.db_url)
    return settings


def open_wall(browser, server: str, who: str, query: str = ""):
    context = browser.new_context(viewport=WALL, extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/login")
    page.fill("input[name=name]", who)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/flags")
    page.goto(f"{server}/wall{query}")
    page.wait_for_selector("#rank-open li")
    page.wait_for_selector("#kinds tr:nth-child(2)")
    page.errors = errors
    return page


def fits_one_screen(page) -> None:
    size = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size[0] <= WALL["width"] and size[1] <= WALL["height"], size


def shot(page, name: str) -> None:
    page.wait_for_timeout(500)  # the map and trend redrawn to their final boxes
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"wall-{name}.png"))


def ids(page, selector: str) -> list[str]:
    return page.locator(selector).evaluate_all("nodes => nodes.map(n => n.dataset.pharmacy)")


@pytest.mark.parametrize("who, districts", [("sup", None), ("insp", {"城关区"})])
def test_the_wall_fits_one_screen_with_map_and_rankings(browser, wall_city, who, districts):
    want = expected(wall_city.db_url, districts, wall_city.footfall_alert_min_swipes)
    with running(create_app(wall_city)) as server:
        page = open_wall(browser, server, who)
        fits_one_screen(page)
        assert sorted(ids(page, "#map .mark")) == want["placed"]
        assert sorted(ids(page, "#unlocated li[data-pharmacy]")) == want["unplaced"]
        assert ids(page, "#rank-open li[data-pharmacy]") == want["by_open"]
        assert ids(page, "#rank-ratio li[data-pharmacy]") == want["by_ratio"] and len(want["by_ratio"]) >= 4
        first = want["by_open"][0]
        title = page.locator(f'#map .mark[data-pharmacy="{first}"] title').text_content()
        assert first in title and "待审核" in title
        assert page.locator(f'#map .mark[data-pharmacy="{first}"] .rank-no').text_content() == "1"
        assert "公里" in page.locator("#map .scale").text_content()
        trend = page.locator(".trend-card canvas").bounding_box()
        assert trend["width"] > 600 and trend["height"] > 120  # drawn to its box, not 560x200
        assert page.locator("header").is_visible()
        assert page.locator("#without-district").is_visible() == (districts is None)  # the warning fits too
        assert page.errors == []
        shot(page, who)


def test_full_screen_and_kiosk_hide_the_chrome(browser, wall_city):
    with running(create_app(wall_city)) as server:
        page = open_wall(browser, server, "sup", "?kiosk=1")
        assert not page.locator("header").is_visible() and not page.locator("footer").is_visible()
        fits_one_screen(page)
        assert page.locator(".map-card").bounding_box()["height"] > 600
        shot(page, "kiosk")
        page = open_wall(browser, server, "sup")
        assert page.locator("header").is_visible()
        page.click("#fullscreen")
        page.wait_for_selector("header", state="hidden")
        assert not page.locator("footer").is_visible()
        assert page.locator("#fullscreen").inner_text() == "退出全屏"
        assert page.evaluate("document.fullscreenElement && document.fullscreenElement.tagName") == "HTML"
        fits_one_screen(page)
        page.click("#fullscreen")
        page.wait_for_selector("header", state="visible")
        assert page.evaluate("document.fullscreenElement") is None
        assert page.locator("#fullscreen").inner_text() == "全屏"
        assert page.errors == []


def test_an_empty_wall_fits_and_says_so(browser, make_settings, tmp_path):
    settings = make_settings(db_url=f"sqlite:///{tmp_path}/empty.db")
    engine = make_engine(settings.db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        add_user(session, name="sup", role=Role.SUPERVISOR, password=PASSWORD, districts=[])
    engine.dispose()
    with running(create_app(settings)) as server:
        context = browser.new_context(viewport=WALL, extra_http_headers={"Accept-Language": "zh-CN"})
        page = context.new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=name]", "sup")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/flags")
        page.goto(f"{server}/wall")
        page.wait_for_selector("#rank-open li.muted")
        fits_one_screen(page)
        assert page.locator("#map .mark").count() == 0 and page.locator("#map .map-empty").count() == 1
        assert page.locator("#unlocated").is_hidden()
        shot(page, "empty")


def test_a_district_without_places_lists_its_pharmacies(browser, wall_city):
    engine = make_engine(wall_city.db_url)
    with transaction(session_factory(engine)) as session:  # 城关区's pharmacies lose their places
        for row in session.scalars(select(Pharmacy).where(Pharmacy.district == "城关区")):
            row.lat = row.lon = None
    engine.dispose()
    with running(create_app(wall_city)) as server:
        page = open_wall(browser, server, "insp")
        fits_one_screen(page)
        assert page.locator("#map .mark").count() == 0
        assert "暂无带坐标的药店" in page.locator("#map .map-empty").text_content()
        assert page.locator("#unlocated-n").inner_text() == "20"
        named = page.locator("#unlocated li[data-pharmacy]").count()
        more = page.locator("#unlocated li.muted")  # "and N more", inside the list's box
        assert named + (int(more.inner_text().split()[1]) if more.count() else 0) == 20 and named >= 8
        if more.count():
            box, last = page.locator("#unlocated").bounding_box(), more.bounding_box()
            assert last["y"] + last["height"] <= box["y"] + box["height"] + 1
        assert page.locator("#legend").is_hidden()
        shot(page, "no-places")
