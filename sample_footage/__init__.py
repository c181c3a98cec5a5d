"""Synthetic audit bundles: rendered pharmacy counters with real people composited in."""
