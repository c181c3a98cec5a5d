"""The live audit in a real browser (Debian chromium via Playwright): while a counter's live view is open
(its picture refreshed from the recorder's snapshots, its live settlements listed), the worker's flag for
a settlement at that counter arrives on the wall's live list and on the live view, marked; one click on
the wall leads to that counter's live view."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, UTC
from decimal import Decimal

from PIL import Image

from api.app import create_app
from database.engine import make_engine, session_factory, transaction
from database.models import LiveSettlement, utcnow
from recorder.snapshots import write_snapshot
from tests.api.conftest import PASSWORD, T0, running
from tests.api.test_wall_page_browser import audit_rows


def jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), (shade, shade, shade)).save(out, "JPEG")
    return out.getvalue()


def test_flag_arrives_on_the_wall_while_the_live_view_updates(city, browser, tmp_path):
    settings = city.settings.model_copy(update={"sse_poll_s": 0.1, "snapshot_dir": tmp_path / "snaps"})
    write_snapshot(settings.snapshots, "PH1", "C1", jpeg(40), datetime.now(UTC) - timedelta(seconds=30))
    factory = session_factory(make_engine(settings.db_url))
    swipe = T0 + timedelta(hours=2)
    with transaction(factory) as s:  # the swipe came in live; its footage is due, the worker has it
        s.add(LiveSettlement(settlement_id="LIVE1", pharmacy_id="PH1", counter_id="C1", settled_at=swipe,
                             card_hash="h" * 16, amount=Decimal("9.50"), items={}, extra={}, source="api",
                             received_at=utcnow(), due_at=utcnow() - timedelta(seconds=5), state="claimed",
                             claimed_by="w1", attempts=1))
    with running(create_app(settings)) as server:
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                      extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        wall = context.new_page()
        wall.goto(f"{server}/login")
        wall.fill("input[name=name]", "insp_a")
        wall.fill("input[name=password]", PASSWORD)
        wall.click("button[type=submit]")
        wall.wait_for_url(f"{server}/flags")
        wall.goto(f"{server}/wall")
        wall.wait_for_selector("#kinds tr:nth-child(2)")
        wall.wait_for_selector("#backlog-tile[data-claimed='1']")  # the backlog tile counts LIVE1

        live = context.new_page()
        live.goto(f"{server}/live/PH1?counter=C1")
        live.wait_for_selector("tr[data-settlement='LIVE1'][data-state='claimed']")
        assert live.locator("#counter-C1").get_attribute("class") == "counter-tile selected"
        live.wait_for_selector("#counter-C1 img[data-role=snapshot]:not([hidden])")
        first = live.locator("#counter-C1").get_attribute("data-picture-at")
        assert first
        assert live.locator("tr[data-settlement='LIVE1'] a.kind").count() == 0

        # the recorder writes a new picture; the worker saves the flag and marks the settlement done
        write_snapshot(settings.snapshots, "PH1", "C1", jpeg(200), datetime.now(UTC))
        audit_rows(city, "live.csv", [("LIVE1", "PH1", "C1", swipe)])
        with transaction(factory) as s:
            row = s.get(LiveSettlement, "LIVE1")
            row.state, row.outcome, row.done_at = "done", "unverifiable", utcnow()

        item = wall.locator("#live li", has_text="LIVE1")
        item.wait_for(timeout=15_000)
        assert item.locator("a.kind").inner_text() == "无法核验"
        live.wait_for_selector("tr[data-settlement='LIVE1'].flagged a.kind", timeout=15_000)
        row = live.locator("tr[data-settlement='LIVE1']")
        assert row.locator("a.kind").inner_text() == "无法核验"
        assert row.locator("td.check").inner_text() == "无法核验"
        flag_id = row.locator("a.kind").get_attribute("data-flag")
        assert item.get_attribute("data-flag") == flag_id
        for _ in range(50):  # the picture moves on within a refresh or two (2 s each)
            if live.locator("#counter-C1").get_attribute("data-picture-at") != first:
                break
            live.wait_for_timeout(200)
        assert live.locator("#counter-C1").get_attribute("data-picture-at") != first
        assert int(live.locator("#counter-C1").get_attribute("data-snapshots")) >= 2
        assert "画面时间" in live.locator("#counter-C1 [data-role=no-picture]").inner_text()

        # one click from the wall's live list to the counter's live view
        item.locator("a.to-live").click()
        wall.wait_for_url(f"{server}/live/PH1?counter=C1")
        wall.wait_for_selector("tr[data-settlement='LIVE1'].flagged")
        context.close()
