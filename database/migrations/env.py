"""Alembic environment: the engine comes from the caller (``database.engine.migrate``) or, for
``alembic`` on the command line, from RXAUDIT_DB_URL."""

from __future__ import annotations

import os

from alembic import context

from database.engine import make_engine
from database.models import Base

config = context.config
engine = config.attributes.get("engine") or make_engine(
    os.environ.get("RXAUDIT_DB_URL", "sqlite:///rxaudit.db"))

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=engine.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
