"""Two reviewers giving verdicts on the same flag at once lose neither verdict (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from database.accounts import add_user, user_principal
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import FlagRow, Verdict
from database.repository import save_result
from database.verdicts import record_verdict
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind
from rxaudit.security import Role, VerdictAction
from tests.factories import settlement


def test_simultaneous_verdicts_are_both_kept(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    s = settlement(1)
    with transaction(factory) as session:
        from database.repository import start_run
        run = start_run(session, settlements_file="x", videos="v")
        save_result(session, run_id=run, result=CheckResult(
            s, CheckStatus.FLAGGED, (Flag("S1", FlagKind.NO_CUSTOMER, 0.9, "nobody"),), {}))
        reviewers = [user_principal(add_user(session, name=f"r{i}", role=Role.SUPERVISOR,
                                             password="long enough pw", districts=[])) for i in range(2)]
        flag_id = session.scalar(select(FlagRow.id))
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def review(principal, action):
        try:
            barrier.wait()
            with transaction(factory) as session:
                record_verdict(session, principal, flag_id=flag_id, action=action, note=principal.name)
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=review, args=(p, a))
               for p, a in zip(reviewers, [VerdictAction.CONFIRM, VerdictAction.DISMISS])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Verdict)) == 2
        assert session.get(FlagRow, flag_id).review_status in {"confirmed", "dismissed"}
    engine.dispose()
