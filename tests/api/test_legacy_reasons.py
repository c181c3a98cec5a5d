"""Flags stored before the caps of ``rxaudit.bounds`` (a 5 MB reason, what the camera saw with tens
of thousands of codes) are shown within them wherever they are rendered: the review page, the queue's
title attribute and ``rxaudit report``'s HTML."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from rxaudit.bounds import EVIDENCE_LIST_MAX, REASON_MAX
from database.engine import make_engine, session_factory, transaction
from database.models import CheckRow, FlagRow
from audit.report import write_report
from tests.api.test_i18n import EN

HUGE = 5_000_000
PAGE_MAX = 200_000  # bytes: a review page with every stored text at its cap is far below this


@pytest.fixture
def legacy(city) -> int:
    """A1's flag with a 5 MB reason, its check with 50,000 codes seen; the flag's id."""
    flag_id = city.flags["A1"]
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        session.execute(update(FlagRow).where(FlagRow.id == flag_id).values(reason="code 1234 sold twice; " * (HUGE // 22)))
        session.execute(update(CheckRow).where(CheckRow.settlement_id == "A1")
                        .values(seen={"reused_codes": [f"{c:020d}" for c in range(50_000)]}))
    engine.dispose()
    return flag_id


def test_the_review_page_shows_a_huge_stored_reason_clipped(client_for, legacy):
    page = client_for("sup").get(f"/flags/{legacy}", headers=EN)
    assert page.status_code == 200 and len(page.content) < PAGE_MAX, len(page.content)
    tech = re.search(r'<p id="tech-reason"[^>]*>([^<]*)</p>', page.text).group(1)
    assert len(tech) <= REASON_MAX and "characters in all" in tech
    assert page.text.count("0000000000000000") <= EVIDENCE_LIST_MAX  # the codes seen, clipped too


def test_the_queue_title_holds_a_clipped_reason(client_for, legacy):
    page = client_for("sup").get("/flags", headers=EN)
    assert page.status_code == 200 and len(page.content) < PAGE_MAX, len(page.content)
    titles = re.findall(r'<td class="reason" title="([^"]*)"', page.text)
    assert titles and max(map(len, titles)) <= REASON_MAX


def test_the_report_shows_a_huge_stored_reason_clipped(city, legacy, tmp_path):
    out = tmp_path / "report.html"
    write_report(city.settings.db_url, out, tmp_path / "evidence")
    html = out.read_text(encoding="utf-8")
    assert len(html.encode()) < PAGE_MAX and "characters in all" in html
