"""A real browser (Debian chromium via Playwright) against a running server: sign in, open a flag,
the clip plays from the swipe time, give a verdict with the keyboard, see it in the history."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from tests.api.conftest import PASSWORD
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(app):
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run installs it)")
        pytest.skip("Debian chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


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
    ids = page.locator("#queue tbody td:nth-child(4)").all_inner_texts()
    assert "A1" in ids and "B1" not in ids  # another district's flag is not in the queue
    page.click("text=A1")
    page.wait_for_url(f"{server}/flags/{city.flags['A1']}")

    video = page.locator("#clip")
    page.wait_for_function("document.getElementById('clip').dataset.swipe !== undefined", timeout=20000)
    swipe = float(video.get_attribute("data-swipe"))
    assert 9.0 <= swipe <= 11.0
    page.wait_for_function("document.getElementById('clip').readyState >= 1", timeout=20000)
    start = page.evaluate("document.getElementById('clip').currentTime")
    assert abs(start - swipe) < 0.6, (start, swipe)  # the player starts at the swipe, not at 0
    page.evaluate("document.getElementById('clip').play()")
    page.wait_for_function(f"document.getElementById('clip').currentTime > {swipe + 0.5}", timeout=20000)
    assert page.evaluate("document.getElementById('clip').error") is None

    page.fill("#note", "nobody at the counter, confirmed on video")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("c")  # the keyboard shortcut for confirm
    page.wait_for_url(f"**/flags/{city.flags['A1']}#history")
    history = page.inner_text("#history-table")
    assert "insp_a" in history and "confirm" in history and "confirmed on video" in history
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-flag.png"), full_page=True)
    shutil.copy(ARTIFACTS / "review-flag.png", ARTIFACTS / "review-flag-latest.png")
