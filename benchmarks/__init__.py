"""Benchmark commands: the audit, the log at scale, records, SSE, memory, models, faces.
May import what they measure (every room but cli); only cli.main imports them, to register them."""
