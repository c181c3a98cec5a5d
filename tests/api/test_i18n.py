"""The review UI in Chinese and English: language choice, catalogs, plain-word reasons, local times."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from api import i18n
from api.reasons import KIND_LABELS, SENTENCES, plain_reason, reasons_of
from tests.conftest import ROOT

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
PO = ROOT / "api" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


@pytest.mark.parametrize("cookie, header, lang", [
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
    (None, "zh", "zh_CN"),
    (None, "zh-Hans-CN", "zh_CN"),
    (None, "en-US,en;q=0.9", "en"),
    (None, "en;q=0.5,zh-CN;q=0.9", "zh_CN"),  # q-values, not the order, decide
    (None, "fr-FR,zh;q=0.3", "zh_CN"),  # the first language we have
    (None, "de", "en"),
    (None, "zh-CN;q=0", "en"),  # q=0 means "not this one"
    (None, "", "en"),
    (None, None, "en"),
    ("en", "zh-CN", "en"),  # the switch beats the browser
    ("zh_CN", "en-US", "zh_CN"),
    ("xx", "zh-CN", "zh_CN"),  # an unknown cookie is ignored
])
def test_pick_lang(cookie, header, lang):
    assert i18n.pick_lang(cookie, header) == lang


def test_chinese_is_the_default_for_a_browser_that_asks_for_it(client_for, city):
    client = client_for("insp_a")
    queue = client.get("/flags", headers=ZH).text
    assert '<html lang="zh-CN">' in queue and "疑点列表" in queue and "空刷" in queue
    assert "刷卡时柜台前无顾客（前后各 1 秒内无人）" in queue
    page = client.get(f"/flags/{city.flags['A1']}", headers=ZH).text
    assert "空刷" in page and "确认违规" in page and "排除原因" in page
    assert "刷卡时柜台前无顾客（前后各 1 秒内无人）" in page
    assert "No customer at the counter within" in page  # the technical detail, one click away
    english = client.get(f"/flags/{city.flags['A1']}", headers=EN).text
    assert '<html lang="en">' in english and "No customer present" in english and "空刷" not in english
    assert "No customer at the counter when the card was swiped (nobody within 1 s either side)" in english


def test_the_switch_remembers_the_choice(client_for, city):
    client = client_for("insp_a")
    switched = client.get("/lang/en", params={"next": f"/flags/{city.flags['A1']}"}, headers=ZH,
                          follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == f"/flags/{city.flags['A1']}"
    assert "rxaudit_lang=en" in switched.headers["set-cookie"]
    assert "No customer present" in client.get("/flags", headers=ZH).text  # the cookie wins
    client.get("/lang/zh_CN", follow_redirects=False)
    assert "空刷" in client.get("/flags", headers=EN).text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "flags"])
def test_the_switch_goes_back_only_to_this_site(client_for, target):
    response = client_for("insp_a").get("/lang/zh_CN", params={"next": target}, follow_redirects=False)
    assert response.headers["location"] == "/flags"


def test_sign_in_page_is_localised_before_sign_in(client_for):
    page = client_for(None).get("/login", headers=ZH).text
    assert "登录" in page and "密码" in page


def _flat(value):
    return tuple(value) if isinstance(value, list | tuple) else value


def _table(catalog) -> dict:
    return {_flat(m.id): _flat(m.string) for m in catalog if m.id}


def test_the_compiled_catalog_matches_its_source():
    """Every text has a Chinese translation, none fuzzy, and the shipped .mo says what the .po says
    (a .po edited without ``make locale`` fails here)."""
    with PO.open("rb") as f:
        po = read_po(f, locale="zh_CN")
    with MO.open("rb") as f:
        mo = read_mo(f)
    untranslated = [m.id for m in po if m.id and (not m.string or (isinstance(m.string, list | tuple) and not all(m.string)))]
    assert untranslated == []
    assert [m.id for m in po if m.id and m.fuzzy] == []
    assert _table(po) == _table(mo)
    pot = ROOT / "api" / "locale" / "messages.pot"
    with pot.open("rb") as f:
        wanted = set(_table(read_po(f)))
    assert wanted <= set(_table(po)), "run `make locale`: texts are missing from the .po"


def test_every_kind_and_sentence_is_translated():
    zh = i18n.gettext_for("zh_CN")
    assert zh(KIND_LABELS["no_customer"]) == "空刷"
    assert zh(KIND_LABELS["card_pooling"]) == "一人多卡·敛卡"
    assert zh(KIND_LABELS["goods_mismatch"]) == "串换药品"
    assert zh(KIND_LABELS["unverifiable"]) == "无法核验"
    assert zh(KIND_LABELS["off_hours"]) == "非营业时间结算"
    assert zh(KIND_LABELS["burst"]) == "短时集中刷卡"
    assert zh(KIND_LABELS["duplicate_settlement"]) == "重复结算"
    assert zh(KIND_LABELS["stock_shortfall"]) == "进销存不符"
    assert zh(KIND_LABELS["trace_code_reuse"]) == "追溯码重复"
    assert zh(KIND_LABELS["card_conflict"]) == "异地同时刷卡"
    for sentence in SENTENCES.values():
        assert zh(sentence) != sentence, sentence


def _ev(seen):
    return {"items": [{"t": "2026-11-20T02:00:45+00:00", "seen": seen}]}


REASONS = [
    ("no_customer", "No customer at the counter within 1.5 s of the swipe (40 frames checked)",
     {"presence_tolerance_s": 1.5, "max_persons": 1, "goods": {"payment_staff_side": 2}},
     "刷卡时柜台前无顾客（前后各 1.5 秒内无人）；只在柜台内侧（员工一侧）看到 1 人；刷卡时有 2 张卡或手机在柜台员工一侧"),
    ("card_pooling", "3 distinct cards settled while one customer (track 7) stayed ...",
     {"settlements": ["S1", "S2", "S3"], "distinct_cards": 3, "track_id": 7},
     "同一位顾客在柜台前期间，3 张不同的医保卡先后结算"),
    ("card_pooling", "The same face was seen at settlements of 4 distinct cards within 30 days at PH1: S2",
     {"same_face_settlements": ["S2"], "distinct_cards": 4, "threshold": 0.5},
     "同一张脸在 30 天内使用 4 张不同的医保卡结算"),
    ("goods_mismatch", "2 non-covered item(s) (food, drink, cosmetics or daily goods) seen on the counter within "
     "3 s of the swipe, but the bill has 0 non-drug line(s). Billed: ...",
     {"goods": {"counts": {"non_covered": 2, "drug": 1}}, "billed": {"drug": 1, "other": 0, "unknown": 0}},
     "柜台上有 2 件非医保商品（食品、饮料、化妆品、日用品），结算单却只有 0 行非药品"),
    ("unverifiable", "no video is recorded for counter PH1/C9 (unknown counter)", {}, "该柜台没有登记摄像头"),
    ("unverifiable", "no footage around the swipe (10:00:43-10:00:47 camera time)", {}, "刷卡前后没有录像"),
    ("unverifiable", "footage for only 3 of 41 sampled frames around the swipe; decode error", {},
     "刷卡前后录像不完整（应有 41 帧，仅有 3 帧）"),
    ("off_hours", "Settled at 23:10 local time, outside business hours 08:00-22:00", {},
     "23:10 结算，不在营业时间 08:00–22:00 内"),
    ("burst", "7 distinct cards settled at counter PH1/C1 within 5 min (threshold 6)", {"distinct_cards": 7},
     "5 分钟内本柜台有 7 张不同的医保卡结算"),
    ("duplicate_settlement", "Same card and amount (9.50) as settlement S1, 40 s earlier",
     {"duplicate_of": "S1", "gap_s": 40.2}, "与 40 秒前的结算 S1 卡号、金额均相同"),
    ("stock_shortfall", "Item X: ...", {"ledger": {"item_code": "X", "count": 5, "received_since": 2,
                                                    "sold_since": 10, "balance": -3}},
     "药品 X：销售量比库存多 3（盘点 5，其后进货 2，其后销售 10）"),
    ("trace_code_reuse", "traceability code 8 sold 2 times: ...",
     {"reused_codes": ["8123"], "linked_settlements": ["S9"]}, "药品追溯码 8123 被重复销售（另见 S9）"),
    ("card_conflict", "same card settled S2 at pharmacy PH2 120 s apart ...",
     {"conflicts": [{"settlement_id": "S2", "gap_s": 120.4, "limit_s": 900.0, "distance_km": 12.5}]},
     "同一张卡相隔 2 分钟又在 S2 结算（两地之间至少需要 15 分钟）"),  # long durations in minutes
]


@pytest.mark.parametrize("kind, reason, seen, zh", REASONS, ids=[f"{r[0]}-{k}" for k, r in enumerate(REASONS)])
def test_reasons_in_plain_words(kind, reason, seen, zh):
    assert plain_reason(kind, reason, _ev(seen), i18n.gettext_for("zh_CN")) == zh
    english = plain_reason(kind, reason, _ev(seen), i18n.gettext_for("en"))
    assert "?" not in english and "track" not in english and "threshold" not in english


def test_a_rule_may_give_its_own_code():
    seen = {"reason_code": "burst", "reason_params": {"cards": 9, "minutes": 2}}
    assert [r.code for r in reasons_of("no_customer", "whatever", _ev(seen))] == ["burst"]
    assert plain_reason("no_customer", "x", _ev(seen), i18n.gettext_for("zh_CN")) == "2 分钟内本柜台有 9 张不同的医保卡结算"


def test_missing_evidence_never_breaks_the_page():
    assert plain_reason("burst", "", None, i18n.gettext_for("en")).startswith("? different cards")
    assert plain_reason("no_such_kind", "", {}, i18n.gettext_for("zh_CN")) == "见技术细节"


@pytest.mark.parametrize("value, text", [
    (datetime(2026, 11, 20, 2, 0, 45, tzinfo=UTC), "2026-11-20 10:00:45"),
    ("2026-11-20T23:30:00+00:00", "2026-11-21 07:30:00"),  # the local day, not the UTC one
    (None, "—"),
])
def test_local_time_is_one_convention(value, text):
    assert i18n.local_time(value, ZoneInfo("Asia/Shanghai")) == text


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        i18n.local_time(datetime(2026, 11, 20, 10, 0), ZoneInfo("Asia/Shanghai"))


def test_pages_show_local_times_and_the_zone_once(client_for, city):
    page = client_for("insp_a").get(f"/flags/{city.flags['A1']}", headers=EN).text
    assert "2026-11-20 10:00:45" in page  # settled 10:00:45+08:00, shown in Asia/Shanghai
    assert page.count("Asia/Shanghai (UTC+08:00)") == 1


def test_translations_escape_their_parameters(client_for, city):
    page = client_for("insp_a").get("/flags", headers=ZH, params={"done": "<b>3</b>"}).text
    assert "&lt;b&gt;3&lt;/b&gt;" in page and "<b>3</b>" not in page


def test_the_catalogs_are_packaged():
    import tomllib
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["api"]
    assert "locale/*/LC_MESSAGES/*.mo" in globs
    assert any(d.startswith("babel") for d in data["project"]["dependencies"])


def test_the_switch_refuses_oversized_input(client_for):
    client = client_for(None)
    assert client.get("/lang/zh_CN", params={"next": "/" + "a" * 3000}, follow_redirects=False).status_code == 422
    assert client.get("/lang/" + "x" * 50, follow_redirects=False).status_code == 422


def test_times_inside_what_the_camera_saw_are_local_too(client_for, city):
    from sqlalchemy import update

    from database.engine import make_engine, session_factory, transaction
    from database.models import CheckRow

    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        session.execute(update(CheckRow).where(CheckRow.settlement_id == "A1").values(
            seen={"visit_start": "2026-11-20T02:00:41+00:00", "frames_checked": 40}))
    engine.dispose()
    page = client_for("insp_a").get(f"/flags/{city.flags['A1']}").text
    raw = page.split('<pre class="seen">')[1].split("</pre>")[0]
    assert "2026-11-20 10:00:41" in raw and "+00:00" not in raw and "40" in raw


def test_goods_left_uncounted_are_explained_on_the_flag_page(client_for, city):
    from sqlalchemy import update

    from database.engine import make_engine, session_factory, transaction
    from database.models import CheckRow

    page = client_for("insp_a").get(f"/flags/{city.flags['A1']}", headers=ZH).text
    assert 'id="goods-unclear"' not in page
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        session.execute(update(CheckRow).where(CheckRow.settlement_id == "A1").values(
            seen={"goods": {"counts": {}, "goods_unclear": {"unsure": 2, "unclear": 1, "min_score": 0.5}}}))
    engine.dispose()
    page = client_for("insp_a").get(f"/flags/{city.flags['A1']}", headers=ZH).text
    note = page.split('id="goods-unclear">')[1].split("</p>")[0]
    assert "未计入的商品" in note and "2 件检测器不确定的商品" in note and "1 件同时被识别为两类" in note
