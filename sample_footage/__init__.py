"""Synthetic audit bundles (rendered counters, real people composited in) and detector training sets.
May import: rxaudit, ingest, vision."""
