"""Every threshold a case file reports has a label in the catalogs (a setting added to
vision.model_versions.THRESHOLDS without one would break every case export)."""

from api.case_summary import THRESHOLD_LABELS
from vision.model_versions import THRESHOLDS


def test_every_reported_threshold_has_a_label():
    assert set(THRESHOLDS) <= set(THRESHOLD_LABELS), set(THRESHOLDS) - set(THRESHOLD_LABELS)
