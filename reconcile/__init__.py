"""Reconcile: visits from observations, identity per visit, and the rules that raise flags (pure).
May import: rxaudit, ingest, vision, sample_footage (in practice: rxaudit, ingest, vision)."""
