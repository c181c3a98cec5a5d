"""The live feed's reads on SQLite and PostgreSQL: flags strictly by id, scoped; live credentials."""

from __future__ import annotations


from database import feed, repository
from database.accounts import add_user, close_session, create_api_key, open_session, revoke_api_key
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import Pharmacy
from rxaudit.domain import CheckResult, CheckStatus, Flag, FlagKind
from rxaudit.security import Principal, Role, digest
from tests.factories import settlement


def test_flags_come_by_id_scoped_and_bounded(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        session.add_all([Pharmacy(pharmacy_id="PA", name="a", district="A"),
                         Pharmacy(pharmacy_id="PB", name="b", district="B")])
        run = repository.start_run(session, settlements_file="x", videos="v")
        for i in range(12):  # later settlements first: id order is not time order
            s = settlement(i, pharmacy="PA" if i % 3 else "PB", seconds=-60 * i)
            repository.save_result(session, run_id=run, result=CheckResult(
                s, CheckStatus.FLAGGED, (Flag(s.settlement_id, FlagKind.BURST, 0.5, "r"),), {}))
    with factory() as session:
        every = feed.flags_after(session, after_id=0, limit=100)
        ids = [v.flag.id for v in every]
        assert ids == sorted(ids) and len(ids) == 12 and feed.newest_flag_id(session) == ids[-1]
        assert [v.flag.id for v in feed.flags_after(session, after_id=ids[2], limit=4)] == ids[3:7]
        assert [v.flag.id for v in feed.flags_after(session, after_id=ids[2], upto=ids[5], limit=9)] == ids[3:6]
        only_b = feed.flags_after(session, after_id=0, limit=100,
                                  principal=Principal("apikey", 1, "k", None, frozenset({"B"})))
        assert [v.district for v in only_b] == ["B"] * 4
    engine.dispose()


def test_live_credentials_drop_revoked_keys_and_closed_sessions(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        keys = [create_api_key(session, name=f"k{i}", districts=[])[0].id for i in range(3)]
        user = add_user(session, name="sup", role=Role.SUPERVISOR, password="long enough pw", districts=[])
        tokens = [open_session(session, user=user, hours=1)[0] for _ in range(3)]
    with transaction(factory) as session:
        revoke_api_key(session, key_id=keys[1])
        close_session(session, token=tokens[0])
        expired = open_session(session, user=user, hours=-1)[0]
    with factory() as session:
        live_keys, live_sessions = feed.live_credentials(
            session, key_ids=keys + [999], session_hashes=[digest(t) for t in [*tokens, expired]])
    assert live_keys == {keys[0], keys[2]}
    assert live_sessions == {digest(tokens[1]), digest(tokens[2])}
    engine.dispose()
