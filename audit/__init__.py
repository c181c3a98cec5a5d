"""The audit as a job: pipeline, counter audit, persist, records, clocks, batch, executors, report.
May import the rooms below it: rxaudit, ingest, vision, sample_footage, reconcile, database."""
