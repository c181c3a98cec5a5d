"""Settlement conflicts listed for supervisors and admins (``/audit/conflicts``), in their language;
inspectors get 403. The rows show where the conflict was and which fields differ, never values."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from audit.pipeline import Models, audit
from tests.api.conftest import T0
from tests.api.test_i18n import EN, ZH
from tests.fakes import BrightBlockPersons, NoFaces


@pytest.fixture
def conflict(city):
    """A1 (PH1, district A) said again by another log at PH2, for another amount."""
    log = city.root / "again" / "settlements.csv"
    log.parent.mkdir()
    log.write_text("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
                   f"N1,PH2,C1,{(T0 + timedelta(seconds=50)).isoformat()},CARD-N1,1.00\n"
                   f"A1,PH2,C1,{(T0 + timedelta(seconds=45)).isoformat()},CARD-A1,2.00\n")
    (city.root / "empty").mkdir()
    return audit(city.settings, settlements_file=log, videos=city.root / "empty",
                 models=Models(BrightBlockPersons(), NoFaces()))


def conflict_rows(page: str) -> list[tuple[str, ...]]:
    return re.findall(r'<td>(\d+)</td><td>([^<]*)</td><td>(\d+)</td>\s*<td class="sid">([^<]*)</td>'
                      r'<td>([^<]*)</td>\s*<td data-fields="([^"]*)">([^<]*)</td>', page)


@pytest.mark.parametrize("who", ["sup", "adm"])
def test_conflicts_are_listed_for_supervisors_and_admins(who, client_for, conflict):
    client = client_for(who)
    assert 'href="/audit/conflicts"' in client.get("/audit", headers=EN).text
    page = client.get("/audit/conflicts", headers=EN).text
    assert conflict_rows(page) == [(str(conflict.run_id), "settlements.csv", "3", "A1", "1",
                                    "pharmacy_id,amount", "pharmacy, amount")]
    assert "PH2" not in page and "2.00" not in page
    chinese = client.get("/audit/conflicts", headers=ZH).text
    assert "结算冲突" in chinese and "药店, 金额" in chinese


def test_inspectors_may_not_see_conflicts(client_for, conflict):
    assert client_for("insp_a").get("/audit/conflicts").status_code == 403
    assert client_for(None).get("/audit/conflicts", follow_redirects=False).status_code in (303, 401)


def test_no_conflicts_says_so(client_for):
    page = client_for("sup").get("/audit/conflicts", headers=EN).text
    assert conflict_rows(page) == [] and "No conflicts recorded." in page
