"""The review UI in a real browser (Debian chromium via Playwright): Chinese for a Chinese browser and
the switch to English, verdicts saved at once with auto-advance to the next open flag and undo from
there, bulk verdicts with a confirmation, the
flag page's evidence and verdict controls above the fold at 1440x900, nothing wider than 390 px."""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import PASSWORD, csrf_of
from tests.api.test_queue_flow import add_flags
from tests.api.test_review_flow import pooled  # noqa: F401 - the fixture
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts"


def signed_in(browser, server, name, *, lang="zh-CN,zh;q=0.9", width=1440, height=900):
    context = browser.new_context(viewport={"width": width, "height": height},
                                  extra_http_headers={"Accept-Language": lang})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/flags")
    page.errors = errors
    return page


def api_status(client_for, flag: int) -> str:
    return client_for("key_all").get(f"/api/v1/flags/{flag}").json()["review_status"]


def test_chinese_first_and_the_switch_to_english(server, browser, city):
    page = signed_in(browser, server, "insp_a")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert "疑点列表" in page.inner_text("header")
    assert "空刷" in page.inner_text("#queue") and "刷卡时柜台前无顾客" in page.inner_text("#queue")
    page.click("#lang-en")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    assert "No customer present" in page.inner_text("#queue")
    page.goto(f"{server}/flags/{city.flags['A1']}")  # the choice is remembered
    assert "Confirm" in page.inner_text("#verdict")
    page.click("#lang-zh_CN")
    page.wait_for_load_state()
    assert "确认违规" in page.inner_text("#verdict") and page.url.endswith(f"/flags/{city.flags['A1']}")
    assert page.errors == []


def test_two_flags_in_a_row_then_undo_from_the_next_page(server, browser, city, client_for):
    """A verdict is saved at once and the next OPEN flag opens with the undo notice; undo from there
    puts the flag back as it was (issue 26). The queue with the notice at 1440x900 and 390x844."""
    ids = add_flags(city, [("N1", "PH1", "C1", 40, "no_customer", {}), ("N2", "PH1", "C1", 35, "no_customer", {}),
                           ("N0", "PH1", "C1", 42, "no_customer", {})])
    sup = client_for("sup")
    assert sup.post(f"/flags/{ids['N0']}/verdict", data={"action": "escalate", "csrf": csrf_of(sup)}).status_code == 200
    page = signed_in(browser, server, "insp_a")
    assert f"/flags/{ids['N0']}" not in page.inner_html("#queue")  # the queue opens on open flags
    a1 = city.flags["A1"]
    page.click("#queue td.sid a >> text=A1")
    page.wait_for_url(f"**/flags/{a1}*")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("c")
    page.wait_for_url(f"**/flags/{ids['N1']}*", timeout=15000)  # N0 (decided) skipped
    assert api_status(client_for, a1) == "confirmed"
    assert "已标记为确认违规" in page.inner_text("#undo-notice") and "撤销" in page.inner_text("#undo-notice")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("1")  # dismiss: wrong detection, saved at once
    page.wait_for_url(f"**/flags/{ids['N2']}*", timeout=15000)
    assert api_status(client_for, ids["N1"]) == "dismissed"
    assert "已标记为排除 · 识别错误" in page.inner_text("#undo-notice")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("u")  # undo from the next page
    page.wait_for_url(f"**/flags/{ids['N1']}*", timeout=15000)
    assert api_status(client_for, ids["N1"]) == "open" and api_status(client_for, a1) == "confirmed"
    assert "已撤销" in page.inner_text("#undo-notice")
    # a decided flag asks before its verdict changes; saying no sends nothing
    page.goto(f"{server}/flags/{a1}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("e")
    time.sleep(0.3)
    assert api_status(client_for, a1) == "confirmed"
    page.uncheck("#shortcuts-on")  # shortcuts can be switched off
    page.keyboard.press("c")
    time.sleep(0.3)
    assert api_status(client_for, a1) == "confirmed" and page.url.split("?")[0].endswith(f"/flags/{a1}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{server}/flags/{ids['N1']}")
    page.check("#shortcuts-on")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("e")
    page.wait_for_url(f"**/flags/{ids['N2']}*", timeout=15000)
    page.goto(f"{server}/flags")
    assert page.is_visible("#undo-notice")
    page.screenshot(path=str(ARTIFACTS / "queue-1440x900.png"), full_page=False)
    small = signed_in(browser, server, "insp_a", width=390, height=844)
    assert small.is_visible("#undo-notice")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    small.screenshot(path=str(ARTIFACTS / "queue-390x844.png"), full_page=False)
    assert page.errors == [] and small.errors == []


def test_bulk_with_a_confirmation(server, browser, city, client_for):
    page = signed_in(browser, server, "sup", lang="en")
    page.check(f"#queue tr[data-href^='/flags/{city.flags['B1']}'] input[name=ids]")
    page.check(f"#queue tr[data-href^='/flags/{city.flags['X1']}'] input[name=ids]")
    assert page.inner_text("#ticked") == "2"
    page.select_option("#bulk-action", "dismiss")
    page.select_option("#bulk-reason", "customer_off_camera")
    page.click("#bulk-apply")
    page.wait_for_selector("#bulk-confirm")
    assert "Dismiss 2 flag(s)?" in page.inner_text("#bulk-count")
    assert api_status(client_for, city.flags["B1"]) == "open"
    page.click("#bulk-yes")
    page.wait_for_selector("#done")
    assert "2" in page.inner_text("#done")
    assert api_status(client_for, city.flags["B1"]) == api_status(client_for, city.flags["X1"]) == "dismissed"
    assert api_status(client_for, city.flags["A1"]) == "open"
    page.goto(f"{server}/flags/{city.flags['B1']}")
    assert "Customer off camera" in page.inner_text("#history-table") and "bulk" in page.inner_text("#history-table")


def test_flag_page_above_the_fold_at_1440x900(server, browser, city):
    page = signed_in(browser, server, "insp_a", lang="zh-CN")
    page.goto(f"{server}/flags/{city.flags['A1']}")
    page.wait_for_function("() => document.getElementById('frame-after').dataset.ready === '1'", timeout=20000)
    page.wait_for_function("() => document.getElementById('clip').readyState >= 1", timeout=20000)
    box = {k: page.locator(sel).bounding_box() for k, sel in (
        ("video", "#clip"), ("controls", "#controls"), ("strip", "#strip"), ("verdict", "#verdict"),
        ("record", ".record .kv"), ("mark", "#swipe-mark"))}
    assert box["verdict"]["y"] + box["verdict"]["height"] <= 900
    assert box["strip"]["y"] + box["strip"]["height"] <= 900
    assert box["record"]["y"] < 900
    assert box["controls"]["y"] >= box["video"]["y"] + box["video"]["height"] - 1  # controls off the picture
    assert page.get_attribute("#clip", "controls") is None
    # the swipe mark sits on the timeline where the swipe is
    seek = page.locator("#seek").bounding_box()
    share = page.evaluate("(() => { const v = document.getElementById('clip'); return v.dataset.swipe / v.duration; })()")
    assert abs((box["mark"]["x"] - seek["x"]) / seek["width"] - share) < 0.05
    captions = [page.locator(f"#strip figure:nth-child({k}) figcaption").bounding_box() for k in (1, 2, 3)]
    for left, right in zip(captions, captions[1:]):
        assert left["x"] + left["width"] <= right["x"]  # the strip's labels do not overlap
    page.click("#strip figure:nth-child(2)")
    assert page.is_visible("#zoom")
    page.keyboard.press("Escape")
    assert page.is_hidden("#zoom")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "flag-1440x900.png"))
    assert page.errors == []


@pytest.mark.parametrize("path", ["/flags", "/flags/{A1}", "/wall", "/flags/{U1}"])
def test_nothing_scrolls_sideways_at_390px(server, browser, city, path):
    page = signed_in(browser, server, "sup", lang="zh-CN", width=390, height=844)
    if "{U1}" in path:
        page.goto(f"{server}/flags?kind=unverifiable")
        page.click("#queue td.sid a")
    else:
        page.goto(server + path.format(A1=city.flags["A1"]))
    page.wait_for_load_state("load")
    time.sleep(0.5)  # the wall fills itself from the API
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_wall_shows_counts_and_follows_verdicts_live(server, browser, city, client_for):
    from tests.api.conftest import csrf_of

    page = signed_in(browser, server, "sup", lang="zh-CN")
    page.goto(f"{server}/wall")
    a1 = city.flags["A1"]
    page.wait_for_selector(f"#live li[data-flag='{a1}']")
    assert "空刷" in page.inner_text("#kinds") and "待审核" in page.inner_text(f"#live li[data-flag='{a1}']")
    assert "2026-11-20 10:00:45" in page.inner_text(f"#live li[data-flag='{a1}']")  # local time, one convention
    inspector = client_for("insp_a")
    inspector.post(f"/flags/{a1}/verdict", data={"action": "confirm", "csrf": csrf_of(inspector)})
    page.wait_for_function(
        f"() => document.querySelector(\"#live li[data-flag='{a1}'] [data-role=status]\").textContent === '已确认违规'",
        timeout=20000)
    assert page.errors == []


def test_card_pooling_shows_the_settlements_side_by_side_with_face_crops(server, browser, pooled):
    page = signed_in(browser, server, "insp_a", lang="en")
    page.goto(f"{server}/flags/{pooled['A1']}")
    page.wait_for_function("() => document.querySelectorAll('#linked canvas.face[data-ready=\"1\"]').length === 2",
                           timeout=20000)
    items = [page.locator("#linked .linked-item").nth(k).bounding_box() for k in (0, 1)]
    assert abs(items[0]["y"] - items[1]["y"]) < 1 and items[0]["x"] + items[0]["width"] <= items[1]["x"]  # side by side
    page.click(f"#linked a[href='/flags/{pooled['A2']}'] >> nth=1")
    page.wait_for_url(f"**/flags/{pooled['A2']}")
    assert page.errors == []


def test_a_refused_verdict_says_why_and_stays_on_the_page(server, browser, city, client_for):
    page = signed_in(browser, server, "insp_a", lang="en")
    a1 = city.flags["A1"]
    page.goto(f"{server}/flags/{a1}")
    page.click("#verdict details:last-of-type summary")
    page.fill("#boxes", "[{not json")
    page.click("#btn-confirm")
    page.wait_for_function("() => document.getElementById('undo-text').textContent.includes('not JSON')", timeout=15000)
    assert page.url.endswith(f"/flags/{a1}") and api_status(client_for, a1) == "open"


def test_a_clip_that_cannot_be_cut_leaves_no_dead_player(server, browser, city):
    from sqlalchemy import update

    from database.engine import make_engine, session_factory, transaction
    from database.models import CheckRow

    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:  # no camera time: the clip cannot be cut
        session.execute(update(CheckRow).where(CheckRow.settlement_id == "A1").values(seen={}))
    engine.dispose()
    page = signed_in(browser, server, "insp_a", lang="zh-CN")
    page.goto(f"{server}/flags/{city.flags['A1']}")
    page.wait_for_selector("#clip-unavailable", timeout=15000)
    assert "视频无法加载" in page.inner_text("#clip-unavailable")
    assert page.locator("#clip").count() == 0 and page.locator("#strip canvas").count() == 0
    assert page.locator("#strip img").count() == 1  # the keyframe drawn at audit time stays
