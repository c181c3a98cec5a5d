"""Stored text is never markup: pharmacy names, districts and reasons that look like HTML are shown
literally on every page and on the wall, in a real browser too, and no script builds HTML from data."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from database.engine import make_engine, session_factory, transaction
from database.models import FlagRow, Pharmacy
from tests.api.conftest import PASSWORD, sign_in
from tests.conftest import ROOT

NAME = "<img src=x onerror=window.__pwned=1>"
DISTRICT = "<svg onload=window.__pwned=2>"
REASON = "</td><script>window.__pwned=3</script>"


@pytest.fixture
def poisoned(city):
    """PH1's name, PH2's district and B1's reason carry markup, as a hostile pharmacies file or log could."""
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        session.execute(update(Pharmacy).where(Pharmacy.pharmacy_id == "PH1").values(name=NAME))
        session.execute(update(Pharmacy).where(Pharmacy.pharmacy_id == "PH2").values(district=DISTRICT))
        session.execute(update(FlagRow).where(FlagRow.settlement_id == "B1").values(reason=REASON))
    engine.dispose()
    return city


def test_pages_escape_stored_text(poisoned, client_for):
    client = client_for("sup")
    queue = client.get("/flags").text
    flag_a = client.get(f"/flags/{poisoned.flags['A1']}").text
    flag_b = client.get(f"/flags/{poisoned.flags['B1']}").text
    for text in (queue, flag_a, flag_b):
        # the page's own drawings (the zone overlay) are SVG; the stored markup must never be
        assert "<img src=x" not in text and "<svg onload" not in text and "<script>window" not in text
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in flag_a
    assert "&lt;svg onload=window.__pwned=2&gt;" in flag_b
    assert "&lt;/td&gt;&lt;script&gt;" in queue


def test_api_returns_stored_text_as_data(poisoned, client_for):
    flag = client_for("key_all").get(f"/api/v1/flags/{poisoned.flags['A1']}")
    assert flag.headers["content-type"].startswith("application/json")
    assert flag.json()["pharmacy_name"] == NAME


SCRIPTS = sorted((ROOT / "api" / "static").glob("*.js"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_no_script_builds_html_from_strings(script):
    text = script.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function", "createContextualFragment", "srcdoc"):
        assert sink not in text, f"{script.name} uses {sink}"


TEMPLATES = sorted((ROOT / "api" / "templates").glob("*.html"))


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_no_template_turns_escaping_off(template):
    text = template.read_text(encoding="utf-8")
    assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup", text), template.name


def test_the_template_environment_escapes(app):
    env = app.state.templates.env
    assert env.from_string("{{ x }}").render(x=NAME) == "&lt;img src=x onerror=window.__pwned=1&gt;"


def test_the_wall_shows_markup_as_text_in_a_real_browser(poisoned, server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and "favicon" not in (msg.location or {}).get("url", "") else None)
    page.goto(f"{server}/login")
    page.fill("input[name=name]", "sup")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/flags")
    page.goto(f"{server}/wall")
    # the three panels fill from the API and the live feed
    page.wait_for_function("() => document.querySelectorAll('#districts tr').length > 1", timeout=20000)
    page.wait_for_function("() => document.querySelectorAll('#rank-open li[data-pharmacy]').length > 1", timeout=20000)
    page.wait_for_function("() => document.querySelectorAll('#live li').length >= 4", timeout=20000)
    assert page.evaluate("window.__pwned") is None  # nothing ran
    assert page.evaluate("document.querySelectorAll('.wall img, .wall script, .wall foreignObject').length") == 0
    assert page.evaluate("[...document.querySelectorAll('.wall svg')]"
                         ".every(s => s.id === 'map' || s.closest('#legend'))")  # the map and its key only
    assert DISTRICT in page.inner_text("#districts")  # shown literally
    assert NAME in page.inner_text("#rank-open") and NAME in page.inner_text("#unlocated")
    assert DISTRICT in page.inner_text("#live")
    links = page.eval_on_selector_all("#live a", "els => els.map(a => a.getAttribute('href'))")
    # each flag and its counter's live view (ids percent-encoded: no markup, no other path)
    assert links and all(re.fullmatch(r"/flags/\d+|/live/[\w%.~-]+\?counter=[\w%.~-]+", href) for href in links)
    assert any(href.startswith("/live/") for href in links)
    assert not errors, errors


def test_the_sign_in_page_shows_only_its_own_messages(client_for):
    client = client_for(None)
    assert "Call 555" not in client.get("/login", params={"error": "Call 555 to unlock your account"}).text
    assert "Wrong name or password" in client.get("/login", params={"error": "wrong"}).text
    failed = sign_in(client, "insp_a", "wrong password!")
    assert "Wrong name or password" in client.get(failed.headers["location"]).text
