"""A real browser (Debian chromium via Playwright) against a running server: sign in, open a flag,
the clip plays from the swipe time, give a verdict with the keyboard, see it in the history."""

from __future__ import annotations

import shutil

from tests.api.conftest import PASSWORD
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts"


def test_review_a_flag_in_a_real_browser(server, browser, city):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/flags")
    assert "/login" in page.url
    page.fill("input[name=name]", "insp_a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    try:
        page.wait_for_url(f"{server}/flags")
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "sign-in-failed.png"))
        raise AssertionError(f"sign-in did not reach the queue: {page.url} {page.inner_text('body')[:300]}") from None
    ids = page.locator("#queue tbody td.sid").all_inner_texts()
    assert "A1" in ids and "B1" not in ids  # another district's flag is not in the queue
    page.click("text=A1")
    page.wait_for_url(f"{server}/flags/{city.flags['A1']}")

    video = page.locator("#clip")
    page.wait_for_function("() => document.getElementById('clip').dataset.swipe !== undefined", timeout=20000)
    swipe = float(video.get_attribute("data-swipe"))
    assert 9.0 <= swipe <= 11.0
    page.wait_for_function("() => document.getElementById('clip').readyState >= 1", timeout=20000)
    start = page.evaluate("document.getElementById('clip').currentTime")
    assert abs(start - swipe) < 0.6, (start, swipe)  # the player starts at the swipe, not at 0
    page.evaluate("document.getElementById('clip').play()")
    page.wait_for_function(f"() => document.getElementById('clip').currentTime > {swipe + 0.5}", timeout=20000)
    assert page.evaluate("document.getElementById('clip').error") is None

    page.fill("#note", "nobody at the counter, confirmed on video")
    page.uncheck("#auto-advance")  # stay on this flag to see the verdict (test_review_flow_browser: advance)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("c")  # the keyboard shortcut for confirm; sent once the undo window has passed
    page.wait_for_url(f"**/flags/{city.flags['A1']}#history", timeout=15000)
    page.wait_for_selector("#history-table td[data-action=confirm]", timeout=15000)
    history = page.inner_text("#history-table")
    assert "insp_a" in history and "confirm" in history.lower() and "confirmed on video" in history
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-flag.png"), full_page=True)
    shutil.copy(ARTIFACTS / "review-flag.png", ARTIFACTS / "review-flag-latest.png")
