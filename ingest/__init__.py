"""Ingest: settlement logs, records, camera configuration and the video stores (local, S3/HTTPS).
May import: rxaudit."""
