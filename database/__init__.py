"""The database: SQLAlchemy 2.0 models, Alembic migrations, queries, repository, accounts, feeds.
May import the rooms below it: rxaudit, ingest, vision, sample_footage, reconcile."""
