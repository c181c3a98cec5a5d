"""The sample bundle's records (purchases, stock counts, trace codes, pharmacy coordinates) against
its ground truth: precision = recall = 1.0 for the records kinds, no clean settlement flagged by
them. Footage is not rendered (the records rules read no video)."""

from __future__ import annotations

import pytest

from ingest.cameras import CamerasConfig
from ingest.records import read_records
from ingest.settlements import read_settlements
from database.engine import make_engine, migrate, session_factory
from audit.pipeline import reconcile_and_save
from sample_footage import generator
from sample_footage.records import RECORD_KINDS
from tests.conftest import TEST_KEY


@pytest.fixture
def bundle_without_video(monkeypatch, tmp_path):
    monkeypatch.setattr(generator, "render_cluster", lambda *a, **k: None)

    def write(seed):
        return generator.write_bundle(tmp_path / f"b{seed}", seed), tmp_path / f"b{seed}"
    return write


def audit_records(folder, db_url, settings):
    path = next(folder / name for name in ("settlements.csv", "settlements.xlsx") if (folder / name).exists())
    log = read_settlements(path, TEST_KEY.encode())
    records, rejected = read_records(path)
    assert rejected == []
    engine = make_engine(db_url)
    migrate(engine)
    _, results, _ = reconcile_and_save(settings, session_factory(engine), settlements=list(log.settlements),
                                       footage={}, cameras=CamerasConfig(), rejected=list(log.rejected),
                                       rows_read=log.rows_read, settlements_file="s.csv", videos="v",
                                       records=records)
    engine.dispose()
    got: dict[str, set[str]] = {kind: set() for kind in RECORD_KINDS}
    for r in results:
        for f in r.flags:
            if str(f.kind) in got:
                got[str(f.kind)].add(r.settlement.settlement_id)
    return got


@pytest.mark.parametrize("seed", [3, 17, 101, 202, 4242])
def test_records_kinds_match_the_ground_truth(seed, bundle_without_video, make_settings):
    expected, folder = bundle_without_video(seed)
    settings = make_settings()
    got = audit_records(folder, settings.db_url, settings)
    for kind in RECORD_KINDS:
        assert expected[kind], kind  # every seed shows every kind
        assert got[kind] == set(expected[kind]), kind
    flagged = set().union(*got.values())
    assert not flagged & set(expected["clean"])
    assert not flagged & set(expected.get("clock_suspect", []))  # only their own flag is right there


def test_records_flags_are_the_same_on_postgresql(db_url, bundle_without_video, make_settings):
    expected, folder = bundle_without_video(7)
    got = audit_records(folder, db_url, make_settings(db_url=db_url))
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(expected[k]) for k in RECORD_KINDS}
