"""Every threshold a case file reports has a label in the catalogs (a setting added to
vision.model_versions.THRESHOLDS without one would break every case export)."""

from api.case_summary import THRESHOLD_LABELS
from vision.model_versions import THRESHOLDS


def test_every_reported_threshold_has_a_label():
    assert set(THRESHOLDS) <= set(THRESHOLD_LABELS), set(THRESHOLDS) - set(THRESHOLD_LABELS)


def test_the_goods_heads_thresholds_are_reported_only_where_it_runs():
    from rxaudit.settings import Settings
    from vision.model_versions import GOODS_HEAD_THRESHOLDS, thresholds

    assert not set(GOODS_HEAD_THRESHOLDS) & set(thresholds(Settings()))
    on = thresholds(Settings(goods_head=True, goods_head_strict=True))
    assert on["goods_head_drug_score"] == 0.5 and on["goods_head_strict"] is True
    assert not set(GOODS_HEAD_THRESHOLDS) & set(thresholds(Settings(goods_head=True, detect_objects=False)))


def test_a_switch_reads_in_words_in_the_case_summary():
    from api.case_summary import _limit_value

    zh = {"yes": "是", "no": "否"}.get
    assert _limit_value(True, zh) == "是" and _limit_value(False, zh) == "否" and _limit_value(0.5, zh) == 0.5
