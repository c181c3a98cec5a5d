"""The flag page's deciding facts in a real browser (Debian chromium), as a Chinese inspector sees
them: a 空刷 and a 串换 flag at 1440x900 and 390x844, nothing wider than the screen, the zone outline
on the player, crops loaded. Screenshots go to ``$FLAG_SCREENS_DIR`` (else test-artifacts/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.api.test_flag_evidence import goods_flag
from tests.api.test_review_flow_browser import ARTIFACTS, signed_in


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_no_customer_and_goods_swap_pages(server, browser, city, width, height):
    out = Path(os.environ.get("FLAG_SCREENS_DIR", ARTIFACTS))
    out.mkdir(parents=True, exist_ok=True)
    goods = goods_flag(city.settings)
    page = signed_in(browser, server, "insp_a", width=width, height=height)
    for name, fid in (("no_customer", city.flags["A1"]), ("goods", goods)):
        page.goto(f"{server}/flags/{fid}")
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} at {width}px is {overflow}px too wide"
        if name == "no_customer":
            assert "上一位顾客离开于结算前" in page.inner_text("#decide-no-customer")
            assert page.is_visible("#zone-overlay polygon")
            video = page.eval_on_selector("#clip", "v => v.getBoundingClientRect().toJSON()")
            svg = page.eval_on_selector("#zone-overlay", "s => s.getBoundingClientRect().toJSON()")
            assert abs(video["width"] - svg["width"]) < 1 and abs(video["height"] - svg["height"]) < 1
        else:
            assert "柜台上看到" in page.inner_text("#decide-goods")
            widths = page.eval_on_selector_all("#crops img", "imgs => imgs.map(i => i.naturalWidth)")
            assert len(widths) == 2 and all(w > 0 for w in widths)  # both crops loaded
        page.screenshot(path=str(out / f"flag-{name}-{width}x{height}.png"), full_page=True)
    assert page.errors == []
