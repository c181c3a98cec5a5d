"""HTTP layer: the review UI and the monitoring-wall API (``create_app``)."""
