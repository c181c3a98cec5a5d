"""The ``pharmacies.csv`` beside a log gives new pharmacies their district (and name and place) in
the registry, so their flags reach the district's inspectors; a district that differs from the
registry's is kept and the row reported; flags that still have no district are counted and said."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from cli.main import main
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import Pharmacy
from audit.pipeline import Models, audit
from tests.conftest import TEST_KEY
from tests.fakes import BrightBlockPersons, NoFaces

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
LOG = ("settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount\n"
       f"S1,PH1,C1,{T0.isoformat()},CARD-A,10.00\n"
       f"S2,PH2,C1,{(T0 + timedelta(seconds=30)).isoformat()},CARD-B,11.00\n")


def bundle(folder: Path, pharmacies: str | None) -> Path:
    (folder / "videos").mkdir(parents=True)  # no footage: every settlement is an unverifiable flag
    log = folder / "settlements.csv"
    log.write_text(LOG)
    if pharmacies is not None:
        (folder / "pharmacies.csv").write_text(pharmacies)
    return log


def run(settings, log: Path):
    return audit(settings, settlements_file=log, videos=log.parent / "videos",
                 models=Models(BrightBlockPersons(), NoFaces()))


def registry(db_url: str) -> dict[str, tuple[str, str, float | None]]:
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        out = {p.pharmacy_id: (p.name, p.district, p.lat) for p in session.scalars(select(Pharmacy))}
    engine.dispose()
    return out


def test_new_pharmacies_get_their_district_from_the_file_beside_the_log(tmp_path, make_settings, db_url):
    settings = make_settings(db_url=db_url)
    log = bundle(tmp_path / "b", "pharmacy_id,name,district,lat,lon\nPH1,东方大药房,城关,36.06,103.83\n"
                                 "PH2,West,七里河,,\n")
    report = run(settings, log)
    assert registry(db_url) == {"PH1": ("东方大药房", "城关", 36.06), "PH2": ("West", "七里河", None)}
    assert "flags_without_district" not in report.summary
    assert report.summary["rejected"] == 0


def test_flags_without_a_district_are_counted_and_said(tmp_path, make_settings, db_url, capsys, monkeypatch):
    settings = make_settings(db_url=db_url)
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    log = bundle(tmp_path / "b", "pharmacy_id,name,district\nPH1,East,城关\n")  # PH2 is not listed
    report = run(settings, log)
    assert report.summary["flags_without_district"] == 1  # PH2's unverifiable flag
    assert report.summary["rows_read"] == report.summary["audited"] + report.summary["rejected"]

    capsys.readouterr()
    code = main(["audit", "--settlements", str(log), "--videos", str(log.parent / "videos"),
                 "--db", db_url, "--evidence-dir", str(tmp_path / "ev")])
    assert code == 0
    assert "1 flags are at pharmacies without a district" in capsys.readouterr().err


def test_a_district_that_differs_from_the_registry_is_kept_and_the_row_reported(tmp_path, make_settings, db_url):
    settings = make_settings(db_url=db_url)
    engine = make_engine(db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        session.add(Pharmacy(pharmacy_id="PH1", name="East", district="A", lat=None, lon=None))
    engine.dispose()
    log = bundle(tmp_path / "b", "pharmacy_id,name,district,lat,lon\nPH1,East,B,36.06,103.83\nPH2,West,A,,\n")
    report = run(settings, log)
    assert registry(db_url) == {"PH1": ("East", "A", 36.06), "PH2": ("West", "A", None)}  # blank place filled
    [row] = report.rejected
    assert (row.source, row.line) == ("pharmacies.csv", 2)
    assert "district" in row.reason and "B" not in row.reason.split("(")[0].split()  # names, never values
    assert report.summary["rejected"] == 0 and report.summary["rejected_records"] == {"pharmacies.csv": 1}


@pytest.mark.parametrize("content, problem", [
    ("pharmacy_id,name,district\n,East,A\n", "pharmacy_id"),
    ("pharmacy_id,name,district,lat,lon\nPH1,East,A,36.0,\n", "lon"),
    ("pharmacy_id,name,district,lat,lon\nPH1,East,A,inf,1\n", "lat"),
    (f"pharmacy_id,name,district\nPH1,East,{'D' * 65}\n", "district"),
])
def test_a_bad_pharmacies_row_is_rejected_and_the_audit_goes_on(tmp_path, make_settings, content, problem):
    settings = make_settings()
    report = run(settings, bundle(tmp_path / "b", content))
    [row] = report.rejected
    assert row.source == "pharmacies.csv" and row.line == 2 and problem in row.reason
    assert report.summary["audited"] == 2


def test_flags_in_a_district_no_inspector_covers_are_counted(tmp_path, make_settings, db_url):
    """A log's own pharmacies.csv may put a new pharmacy in a district nobody inspects: said too."""
    from database.accounts import add_user
    from rxaudit.security import Role

    settings = make_settings(db_url=db_url)
    engine = make_engine(db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        add_user(session, name="insp", role=Role.INSPECTOR, password="correct horse battery", districts=["城关"])
    engine.dispose()
    log = bundle(tmp_path / "b", "pharmacy_id,name,district\nPH1,East,城关\nPH2,West,NO-SUCH-DISTRICT\n")
    report = run(settings, log)
    assert report.summary["flags_in_uninspected_districts"] == {"NO-SUCH-DISTRICT": 1}
    assert "flags_without_district" not in report.summary
