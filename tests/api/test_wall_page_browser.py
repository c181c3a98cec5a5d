"""The wall page in a real browser (Debian chromium via Playwright): its counts equal ``/api/v1/stats``
after load even when the flags with the highest ids are not the newest by settlement time, and a flag
that arrives on the feed afterwards is counted once."""

from __future__ import annotations

from datetime import timedelta

from api.app import create_app
from audit.pipeline import Models, audit
from tests.api.conftest import PASSWORD, T0, running
from tests.fakes import BrightBlockPersons, NoFaces

HEADER = "settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount"


def audit_rows(city, name: str, rows: list[tuple[str, str, str, object]]) -> None:
    """Audit ``rows`` (id, pharmacy, counter, time) into the city's database, at counters without
    footage (each one an ``unverifiable`` flag)."""
    log = city.root / name
    log.write_text("\n".join([HEADER, *(f"{sid},{ph},{c},{t.isoformat()},CARD-{sid},9.50"
                                        for sid, ph, c, t in rows)]) + "\n")
    (city.root / "empty-store").mkdir(exist_ok=True)
    audit(city.settings, settlements_file=log, videos=city.root / "empty-store",
          models=Models(BrightBlockPersons(), NoFaces()))


def wall_kind_totals(page) -> dict[str, int]:
    """The wall's kinds table as {kind label: all-days count}."""
    rows = page.locator("#kinds tr").all()[1:]
    return {r.locator("td").nth(0).inner_text(): int(r.locator("td").nth(2).inner_text()) for r in rows}


def test_wall_counts_equal_stats_and_count_a_live_flag_once(city, browser):
    # Counter C8 sorts (and is numbered) before C9, but its swipes are the later ones: the 20 newest
    # flags by settlement time are C8's and the city's, and C9's flags carry the highest ids.
    later = [(f"L{k:02d}", "PH1", "C8", T0 - timedelta(hours=1, seconds=k)) for k in range(25)]
    earlier = [(f"E{k:02d}", "PH1", "C9", T0 - timedelta(days=1, seconds=k)) for k in range(6)]
    audit_rows(city, "second.csv", later + earlier)
    settings = city.settings.model_copy(update={"sse_poll_s": 0.1})
    with running(create_app(settings)) as server:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{server}/login")
        page.fill("input[name=name]", "sup")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/flags")
        stats = page.evaluate("fetch('/api/v1/stats').then(r => r.json())")
        page.goto(f"{server}/wall")
        page.wait_for_selector("#kinds tr:nth-child(2)")  # (no wait_for_function: the page's CSP forbids eval)
        page.wait_for_timeout(1500)  # the feed has had time to replay anything it wrongly would
        labels = dict(zip(page.locator("#kind-labels li").evaluate_all("ls => ls.map(l => l.dataset.kind)"),
                          page.locator("#kind-labels li").all_text_contents()))
        want = {labels[k]: n for k, n in stats["by_kind"].items()}
        assert wall_kind_totals(page) == want
        lost = stats["by_district"]["(none)"]  # PHX has no district in the city
        assert page.locator("#without-district").is_visible()
        assert page.locator("#without-district").inner_text().startswith(f"{lost} flags")

        audit_rows(city, "third.csv", [("N1", "PH2", "C7", T0 - timedelta(days=2))])
        unverifiable = labels["unverifiable"]
        page.locator("#live li", has_text="N1").wait_for(timeout=15_000)
        page.wait_for_timeout(3000)  # the refresh that follows a new flag has run too
        assert wall_kind_totals(page)[unverifiable] == want[unverifiable] + 1
        after = page.evaluate("fetch('/api/v1/stats').then(r => r.json())")
        assert sum(wall_kind_totals(page).values()) == after["total"]
        assert page.locator("#open-total").inner_text() == str(after["by_status"]["open"])
