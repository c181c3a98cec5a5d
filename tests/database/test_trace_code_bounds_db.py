"""A settlement an earlier audit stored is flagged when later audits sell its codes again; what its
flag holds stays bounded (issue 24) however many codes, partners and audits there are, and the same
audit run again adds nothing. SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from rxaudit.bounds import EVIDENCE_LIST_MAX, REASON_MAX
from database.models import FlagRow
from tests.database.test_records_db import audit, sale, setup

CODES = [f"8{k:019d}" for k in range(300)]


def earlier_flag(factory, sid: str = "S0") -> FlagRow:
    with factory() as session:
        return session.scalar(select(FlagRow).where(FlagRow.settlement_id == sid,
                                                    FlagRow.kind == "trace_code_reuse"))


def test_an_earlier_settlement_s_flag_holds_totals_and_the_first_few(db_url, make_settings):
    engine, factory = setup(db_url)
    settings = make_settings(db_url=db_url)
    audit(factory, settings, [sale(0, codes=CODES, qty=len(CODES))])
    later = [sale(n, days=1, pharmacy=f"PH{n % 5}", codes=CODES, qty=len(CODES)) for n in range(1, 26)]
    audit(factory, settings, later)
    flag = earlier_flag(factory)
    (item,) = flag.evidence["items"]
    assert item["seen"]["codes_total"] == len(CODES) and item["seen"]["partners_total"] == 25
    assert item["seen"]["reused_codes"] == CODES[:EVIDENCE_LIST_MAX]
    assert item["seen"]["linked_settlements"] == sorted(f"S{n}" for n in range(1, 26))[:EVIDENCE_LIST_MAX]
    assert len(flag.reason) <= REASON_MAX and flag.reason.endswith("… +5")
    audit(factory, settings, later)  # the same audit again: the flag says this already
    again = earlier_flag(factory)
    assert (again.reason, again.evidence) == (flag.reason, flag.evidence)
    engine.dispose()


def test_many_later_audits_keep_an_open_flag_bounded(db_url, make_settings):
    engine, factory = setup(db_url)
    settings = make_settings(db_url=db_url)
    audit(factory, settings, [sale(0, codes=CODES[:1])])
    audits = EVIDENCE_LIST_MAX + 10
    for n in range(1, audits + 1):  # each audit sells the box once more, elsewhere
        audit(factory, settings, [sale(n, days=n, pharmacy=f"PH{n}", codes=CODES[:1])])
    flag = earlier_flag(factory)
    items = flag.evidence["items"]
    assert len(items) == EVIDENCE_LIST_MAX and len(flag.reason) <= REASON_MAX
    assert items[0]["seen"]["linked_settlements"] == ["S1"]  # the first finding stays, then the latest
    assert items[-1]["seen"]["linked_settlements"] == [f"S{audits}"]
    engine.dispose()
