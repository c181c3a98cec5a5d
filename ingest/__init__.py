"""Ingest: settlement logs, camera configuration and the video store."""
