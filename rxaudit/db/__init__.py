"""Persistence: SQLAlchemy 2.0 typed models, Alembic migrations, and a repository of functions."""
