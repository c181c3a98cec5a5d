"""rxaudit: pharmacy video audit. The shared core: domain model, settings, database, pipeline, CLI."""

__version__ = "0.1.0"
