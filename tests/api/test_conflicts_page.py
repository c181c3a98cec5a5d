"""Settlement conflicts listed for supervisors and admins (``/audit/conflicts``), in their language;
inspectors get 403. The rows show where the conflict was and which fields differ, never values."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from api.deps import current_user
from audit.pipeline import Models, audit
from rxaudit.security import Principal, Role
from tests.api.conftest import T0
from tests.api.test_i18n import EN, ZH
from tests.fakes import BrightBlockPersons, NoFaces


@pytest.fixture
def conflict_log(city) -> Path:
    return city.root / "again" / "settlements.csv"


@pytest.fixture
def conflict(city, conflict_log):
    """A1 (PH1, district A) said again by another log at PH2, for another amount; B1 (PH2,
    district B) said again at PH1."""
    log = conflict_log
    log.parent.mkdir()
    log.write_text("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
                   f"N1,PH2,C1,{(T0 + timedelta(seconds=50)).isoformat()},CARD-N1,1.00\n"
                   f"A1,PH2,C1,{(T0 + timedelta(seconds=45)).isoformat()},CARD-A1,2.00\n"
                   f"B1,PH1,C1,{(T0 + timedelta(seconds=45)).isoformat()},CARD-B1,9.50\n")
    (city.root / "empty").mkdir()
    return audit(city.settings, settlements_file=log, videos=city.root / "empty",
                 models=Models(BrightBlockPersons(), NoFaces()))


def conflict_rows(page: str) -> list[tuple[str, ...]]:
    return re.findall(r'<td>(\d+)</td><td class="path">([^<]*)</td><td>(\d+)</td>\s*<td class="sid">([^<]*)</td>'
                      r'<td class="stored-pharmacy">([^<]*)</td><td>([^<]*)</td>\s*'
                      r'<td data-fields="([^"]*)">([^<]*)</td>', page)


@pytest.mark.parametrize("who", ["sup", "adm"])
def test_conflicts_are_listed_for_supervisors_and_admins(who, client_for, conflict, conflict_log):
    client = client_for(who)
    assert 'href="/audit/conflicts"' in client.get("/audit", headers=EN).text
    page = client.get("/audit/conflicts", headers=EN).text
    run = str(conflict.run_id)
    assert conflict_rows(page) == [(run, str(conflict_log), "4", "B1", "PH2", "1", "pharmacy_id", "pharmacy"),
                                   (run, str(conflict_log), "3", "A1", "PH1", "1",
                                    "pharmacy_id,amount", "pharmacy, amount")]
    assert "2.00" not in page  # the conflicting row's values are never shown
    chinese = client.get("/audit/conflicts", headers=ZH).text
    assert "结算冲突" in chinese and "药店, 金额" in chinese


def test_inspectors_may_not_see_conflicts(client_for, conflict):
    assert client_for("insp_a").get("/audit/conflicts").status_code == 403
    assert client_for(None).get("/audit/conflicts", follow_redirects=False).status_code in (303, 401)


def test_no_conflicts_says_so(client_for):
    page = client_for("sup").get("/audit/conflicts", headers=EN).text
    assert conflict_rows(page) == [] and "No conflicts recorded." in page


@pytest.mark.parametrize(("districts", "listed"), [({"A"}, ["A1"]), ({"B"}, ["B1"]), ({"C"}, []),
                                                   (None, ["B1", "A1"])])
def test_conflicts_are_scoped_by_the_stored_settlements_district(app, client_for, conflict, districts, listed):
    """A supervisor limited to districts sees a conflict only when the stored settlement's pharmacy
    is in one of them (the conflicting row's pharmacy does not matter); unscoped sees all."""
    client = client_for("sup")
    if districts is not None:
        scoped = Principal("user", 1, "sup", Role.SUPERVISOR, frozenset(districts))
        app.dependency_overrides[current_user] = lambda: scoped
    try:
        page = client.get("/audit/conflicts", headers=EN).text
    finally:
        app.dependency_overrides.clear()
    assert [row[3] for row in conflict_rows(page)] == listed
