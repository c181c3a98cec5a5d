"""Live cameras into the video store: one supervised reader per stream, segments copied without
re-encoding, health and gaps in the database. Imports database, ingest and below."""
