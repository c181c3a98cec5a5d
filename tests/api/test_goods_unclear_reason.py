"""The review-only goods_unclear flag (issue 25) has its label and its plain reason in both languages."""

from __future__ import annotations

from api import i18n
from api.reasons import KIND_LABELS, plain_reason
from rxaudit.domain import FlagKind

REASON = ("2 item(s) on the counter within 1.5 s of the swipe may be non-covered goods, beyond the bill's 0 "
          "non-drug line(s), but the detector is not decisive (0 decisive reading(s): too unsure, too few "
          "frames, or read as a drug too): for review, not an accusation. Billed: A item A x1 (covered)")
EVIDENCE = {"items": [{"t": "2026-11-20T02:00:45+00:00", "seen": {"goods": {"possible_non_covered": 2}}}]}


def test_every_flag_kind_has_a_label():
    assert {str(k) for k in FlagKind} <= set(KIND_LABELS)


def test_goods_unclear_reads_as_a_review_item_in_chinese_and_english():
    zh, en = i18n.gettext_for("zh_CN"), i18n.gettext_for("en")
    assert zh(KIND_LABELS["goods_unclear"]) == "商品存疑（待复核）"
    chinese = plain_reason("goods_unclear", REASON, EVIDENCE, zh)
    assert chinese.startswith("柜台上 2 件商品可能是非医保商品，超出账单中 0 条非药品明细") and "仅供复核" in chinese
    english = plain_reason("goods_unclear", REASON, EVIDENCE, en)
    assert english.startswith("2 item(s) on the counter may be non-covered") and "not an accusation" in english
