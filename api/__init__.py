"""HTTP layer: the review UI and the monitoring-wall API (``create_app``).
May import the rooms below it: rxaudit up to training."""
