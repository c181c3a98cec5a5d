"""The audit log's details and the error pages in Chinese (issue 26)."""

from __future__ import annotations

import html
import re

from tests.api.conftest import csrf_of

ZH = {"Accept-Language": "zh-CN", "Accept": "text/html"}


def _text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.text)))


def test_error_pages_are_chinese(client_for):
    page = client_for("insp_a").get("/flags/999999", headers=ZH)
    assert page.status_code == 404
    text = _text(page)
    assert "未找到" in text and "该内容不存在，或属于您无权查看的辖区。" in text and "not found" not in text


def test_audit_log_details_are_chinese(client_for, city):
    sup = client_for("sup")
    fid = city.flags["A1"]
    sup.post(f"/flags/{fid}/verdict", data={"action": "dismiss", "reason": "wrong_detection",
                                            "csrf": csrf_of(sup)}, follow_redirects=False)
    text = _text(sup.get("/audit", headers=ZH))
    assert re.search(rf"疑点 {fid} .*结论 排除 原因 识别错误 批量 否", text), text[-1500:]
    assert "(用户)" in text and '"flag_ids"' not in text and "flags:" not in text
