from __future__ import annotations

import os
from pathlib import Path

import pytest

from rxaudit.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
FOOTAGE = ROOT / "tests" / "data" / "footage"
GOODS = ROOT / "tests" / "data" / "goods"  # real snack frames and grocery photos, held out of training
TEST_KEY = "test-card-hash-key-0123456789"


def pg_url() -> str:
    return os.environ.get("RXAUDIT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(pg_url().replace("postgresql://", "postgresql://", 1), connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch, tmp_path):
    """Tests never read the developer's .env; each runs in its own folder."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("RXAUDIT_") and name != "RXAUDIT_TEST_PG_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def make_settings(tmp_path):
    def factory(**overrides) -> Settings:
        values = {"db_url": f"sqlite:///{tmp_path}/rx.db", "evidence_dir": str(tmp_path / "evidence"),
                  "card_hash_key": TEST_KEY}
        values.update(overrides)
        return load_settings(**values)
    return factory


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Each database test runs on SQLite and on PostgreSQL (in a schema of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/rx.db"
        return
    if not pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {pg_url()} in CI")
        pytest.skip("PostgreSQL not reachable")
    import uuid

    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_url(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{pg_url()}?options=-csearch_path%3D{schema}"
    with psycopg.connect(pg_url(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
