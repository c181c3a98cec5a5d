"""What the API serves and a case file holds for a flag stays bounded (issue 24), whatever was stored:
a flag stored before the bounds (a 6,000-code trace_code_reuse with a reason naming every pairing) is
served within API_ROW_MAX, printed with its reason clipped, and an export runs against a deadline,
never leaving a scratch folder behind (a timeout, a failure, or a dead process before it)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import case_file
from api.case_file import STALE_SCRATCH_S, clean_stale_scratch
from api.case_pdf import chinese_font, render_pdf
from rxaudit import bounds
from rxaudit.bounds import API_ROW_MAX, PDF_TEXT_MAX, REASON_MAX, clip_text, fit_json, json_size
from database.engine import make_engine, session_factory, transaction
from database.models import FlagRow
from tests.api.test_case_file import _zip

CODES = [f"8{k:019d}" for k in range(6000)]
PARTNERS = [f"S{n:03d}" for n in range(40)]
# what the rule stored before the bounds: a sentence per code naming every partner (12 MB at 40 x 6,000)
OLD_REASON = " | ".join(f"traceability code {c} sold 40 times: " + "; ".join(f"{p} at PH1 (D1, 2026-11-20)"
                                                                          for p in PARTNERS) for c in CODES[:60])


@pytest.fixture
def old_flag(city) -> int:
    """A trace_code_reuse flag on A1 (district A) as stored before the bounds."""
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        row = FlagRow(settlement_id="A1", kind="trace_code_reuse", score=0.9, reason=OLD_REASON,
                      evidence={"items": [{"t": "2026-11-20T02:00:45+00:00", "keyframe": None, "clip": None,
                                           "boxes": [], "seen": {"reused_codes": CODES,
                                                                 "linked_settlements": PARTNERS}}] * 3},
                      review_status="open")
        session.add(row)
        session.flush()
        flag = row.id
    engine.dispose()
    return flag


def scratch() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("rxaudit-case-*"))


def test_an_api_row_stays_within_its_cap(client_for, old_flag):
    client = client_for("key_all")
    page = client.get("/api/v1/flags", params={"page_size": 500, "kind": "trace_code_reuse"}).json()
    (row,) = page["items"]
    one = client.get(f"/api/v1/flags/{old_flag}").json()
    for served in (row, one):
        assert json_size(served) <= API_ROW_MAX
        assert served["reason"] == clip_text(OLD_REASON, REASON_MAX)
        seen = served["evidence"][0]["seen"]
        assert seen["truncated"] == {"reused_codes": 6000, "linked_settlements": 40}
        assert seen["reused_codes"] == CODES[:len(seen["reused_codes"])] and seen["reused_codes"]


@pytest.mark.parametrize("value, budget", [
    ({"seen": {"codes": CODES}}, 4096),
    ([{"seen": {"codes": CODES, "note": "x" * 50_000}}] * 50, 2048),
    ([{f"k{n}": "v" * 100 for n in range(2000)}], 1024),  # wide, not long: nothing to clip fits
    ("x" * 10_000, 100),
])
def test_fit_json_keeps_to_any_budget(value, budget):
    assert json_size(fit_json(value, budget)) <= budget


def test_fit_json_leaves_what_fits_alone():
    value = [{"t": "2026-11-20T10:00:00+08:00", "boxes": [[1, 2, 3, 4]] * 40, "seen": {"n": 1}}]
    assert fit_json(value, API_ROW_MAX) is value


def test_the_case_summary_holds_a_bounded_reason_and_case_json_all_of_it(client_for, old_flag):
    before = scratch()
    with _zip(client_for("insp_a").get(f"/flags/{old_flag}/export.zip")) as zf:
        summary = zf.read("summary.html").decode()
        case = json.loads(zf.read(f"flag-{old_flag}-trace_code_reuse/case.json"))
    assert clip_text(OLD_REASON, REASON_MAX) in summary and OLD_REASON[:REASON_MAX] not in summary
    assert "… +5997" in summary  # the plain sentence: the first codes and how many more
    assert case["flag"]["reason"] == OLD_REASON  # the record keeps what was stored
    assert scratch() == before


def test_an_export_past_its_deadline_is_a_clear_error_and_leaves_nothing(app, city, monkeypatch):
    gather = case_file._gather

    def slow(*args, **kwargs):
        time.sleep(0.3)
        return gather(*args, **kwargs)

    monkeypatch.setattr(case_file, "_gather", slow)
    monkeypatch.setattr(bounds, "EXPORT_DEADLINE_S", 0.2)
    before = scratch()
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {city.keys['key_all']}"
    response = client.get("/export.zip")
    assert response.status_code == 503
    assert "not built within 0.2 s" in response.json()["detail"]
    assert scratch() == before


def test_an_export_that_fails_leaves_nothing(app, city, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(case_file, "_gather", broken)
    before = scratch()
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {city.keys['key_all']}"
    assert client.get(f"/flags/{city.flags['A1']}/export.zip").status_code == 500
    assert scratch() == before


def test_scratch_left_by_a_dead_process_is_removed(tmp_path, client_for, city, monkeypatch):
    old = time.time() - STALE_SCRATCH_S - 60
    dead_dir, dead_zip = tmp_path / "rxaudit-case-dead", tmp_path / "rxaudit-case-dead.zip"
    (dead_dir / "sub").mkdir(parents=True)
    (dead_dir / "sub" / "1.mp4").write_bytes(b"x")
    dead_zip.write_bytes(b"PK")
    target = tmp_path / "keep"
    target.mkdir()
    (tmp_path / "rxaudit-case-link").symlink_to(target, target_is_directory=True)
    fresh = tmp_path / "rxaudit-case-running"
    fresh.mkdir()
    for path in (dead_dir, dead_zip, tmp_path / "rxaudit-case-link"):
        os.utime(path, (old, old), follow_symlinks=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the next export looks here
    _zip(client_for("insp_a").get(f"/flags/{city.flags['A1']}/export.zip")).close()
    assert sorted(p.name for p in tmp_path.glob("rxaudit-case-*")) == ["rxaudit-case-running"]
    assert target.is_dir()  # a link goes, never what it points to
    assert clean_stale_scratch(tmp_path) == 0


def test_a_pdf_gets_a_bounded_text():
    started = time.monotonic()
    pdf, why = render_pdf("<p>" + "空" * (PDF_TEXT_MAX + 1) + "</p>")
    assert pdf is None and "too long for a PDF" in why
    assert time.monotonic() - started < 5  # refused before any rendering


@pytest.mark.skipif(chinese_font() is None, reason="no Chinese font: no PDF is rendered at all")
def test_a_pdf_that_takes_too_long_is_given_up_on_time():
    html = "<table>" + "".join(f"<tr><td>{n}</td><td>{'空刷' * 200}</td></tr>" for n in range(100)) + "</table>"
    started = time.monotonic()
    pdf, why = render_pdf(html, timeout_s=0.5)
    assert pdf is None and "took longer than" in why
    assert time.monotonic() - started < 5
