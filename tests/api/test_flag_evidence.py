"""The flag page shows the facts that decide each kind (issue 26), in plain Chinese: the customer
timeline, zone and clock offset of a 空刷; what was seen (crops) against the bill of a 串换; the
ledger of a 进销存 shortfall; the codes of a 追溯码 reuse; the partners of duplicates, conflicts,
bursts and pooling, even in another district, with only the facts that decide them."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import select, update

from audit.pipeline import reconcile_and_save
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import AuditLogEntry, CheckRow, FlagRow, Pharmacy, SettlementRow
from ingest.cameras import CamerasConfig
from rxaudit.domain import SettlementItem
from rxaudit.records import Location, Purchase, Records, StockCount
from tests.api.conftest import T0
from tests.factories import settlement

CODE = "3" * 20
ZH = {"Accept-Language": "zh-CN"}


def _session(settings):
    engine = make_engine(settings.db_url)
    migrate(engine)
    return engine, session_factory(engine)


def _text(response) -> str:
    assert response.status_code == 200, response.text[:300]
    return html.unescape(re.sub(r"<[^>]+>", " ", response.text))


def _flag(settings, settlement_id: str, kind: str) -> int:
    engine, factory = _session(settings)
    with factory() as session:
        fid = session.scalars(select(FlagRow.id).where(FlagRow.settlement_id == settlement_id,
                                                       FlagRow.kind == kind)).one()
    engine.dispose()
    return fid


def records_audit(settings) -> None:
    """Records kinds in two districts: PH1 (A) and PH2 (B), 12 km apart."""
    def sale(sid, pharmacy, minutes, card, *, counter="C1", item="D1", name="阿莫西林胶囊", codes=(CODE,), amount="9.50"):
        return settlement(settlement_id=sid, pharmacy=pharmacy, counter=counter, seconds=3600 + minutes * 60,
                          card=card, amount=amount,
                          items=(SettlementItem(item, name, Decimal(1), Decimal(amount), trace_codes=codes),))

    sales = [sale("R1", "PH1", 0, "RING"), sale("R2", "PH1", 1, "OTHER"), sale("R3", "PH2", 3, "RING"),
             sale("D5", "PH1", 10, "DUP", item="D9", codes=()), sale("D6", "PH1", 10.5, "DUP", item="D9", codes=())]
    sales += [sale(f"BU{k}", "PH1", 20 + k * 0.4, f"BURST{k}", counter="C2", item="D9", codes=()) for k in range(6)]
    engine, factory = _session(settings)
    reconcile_and_save(settings, factory, settlements=sales, footage={}, cameras=CamerasConfig(), rejected=[],
                       rows_read=len(sales), settlements_file="r.csv", videos="v",
                       records=Records(stock_counts=(StockCount("PH1", "D1", Decimal(1), T0),),
                                       purchases=(Purchase("PH1", "D1", Decimal(0.5), T0 + timedelta(minutes=30),
                                                           supplier="国药控股", invoice_no="INV-778"),),
                                       locations={"PH1": Location(31.20, 121.40), "PH2": Location(31.20, 121.526)}))
    with transaction(factory) as session:
        session.execute(update(Pharmacy).where(Pharmacy.pharmacy_id == "PH1").values(lat=31.20, lon=121.40))
        session.execute(update(Pharmacy).where(Pharmacy.pharmacy_id == "PH2").values(lat=31.20, lon=121.526))
    engine.dispose()


def _page(client, settings, sid, kind) -> str:
    return re.sub(r"\s+", " ", _text(client.get(f"/flags/{_flag(settings, sid, kind)}", headers=ZH)))


def _set_seen(settings, settlement_id: str, **changes) -> None:
    engine, factory = _session(settings)
    with transaction(factory) as session:
        check = session.get(CheckRow, settlement_id)
        seen = dict(check.seen)
        for key, value in changes.items():
            seen[key] = value
        check.seen = seen
    engine.dispose()


# -- 空刷 -------------------------------------------------------------------------------------------

def test_no_customer_shows_the_timeline_the_zone_and_the_clock_offset(city, client_for):
    """A1 at 45 s: the customer stood at the counter from 10 s to 30 s (tests/api/conftest.py)."""
    client = client_for("insp_a")
    fid = _flag(city.settings, "A1", "no_customer")
    raw = client.get(f"/flags/{fid}", headers=ZH).text
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", raw)))
    left = re.search(r"上一位顾客离开于结算前 ([\d.]+) 秒", text)
    assert left and 14 <= float(left.group(1)) <= 17, text[:2000]
    assert re.search(r"结算后 [\d.]+ 秒的画面中没有顾客", text)
    assert "画面时间与结算时间一致" in text
    # the zone the audit used (stored in seen["zone"] at audit time) drawn over the player
    polygon = re.search(r'id="zone-overlay"[^>]*viewBox="0 0 (\d+) (\d+)"[^>]*><polygon points="([^"]+)"', raw)
    assert polygon, "no zone over the player"
    w, h = int(polygon.group(1)), int(polygon.group(2))
    zone = _check_seen(city.settings, "A1")["zone"]
    drawn = [tuple(float(v) for v in p.split(",")) for p in polygon.group(3).split()]
    assert drawn == [pytest.approx((x * w, y * h), abs=0.1) for x, y in zone]
    # the camera 50 s behind the settlement clock, said in words
    profile = dict(_check_seen(city.settings, "A1")["clock_profile"], offset_s=-50.0)
    _set_seen(city.settings, "A1", clock_profile=profile)
    assert "画面时间比结算时间慢 50 秒" in _page(client, city.settings, "A1", "no_customer")
    _set_seen(city.settings, "A1", clock_profile={**profile, "offset_s": 200.0})
    assert "画面时间比结算时间快 3 分 20 秒" in _page(client, city.settings, "A1", "no_customer")


def _check_seen(settings, settlement_id):
    engine, factory = _session(settings)
    with factory() as session:
        seen = dict(session.get(CheckRow, settlement_id).seen)
    engine.dispose()
    return seen


# -- 串换 -------------------------------------------------------------------------------------------

def goods_flag(settings, kind: str = "goods_mismatch") -> int:
    """A goods-swap flag on A1 (district A): two boxed objects on its keyframe, a billed covered drug
    whose name is markup."""
    engine, factory = _session(settings)
    with transaction(factory) as session:
        flag = session.scalars(select(FlagRow).where(FlagRow.settlement_id == "A1",
                                                     FlagRow.kind == "no_customer")).one()
        item = dict(flag.evidence["items"][0])
        item["boxes"] = [{"label": "customer #1 0.90", "box": [0, 0, 60, 100]},
                         {"label": "non_covered 0.91", "box": [40, 60, 120, 110]},
                         {"label": "drug 0.85", "box": [150, 80, 200, 120]}]
        item["seen"] = {**item["seen"], "goods": {"counts": {"non_covered": 2, "drug": 1, "card": 0}},
                        "billed": {"covered": 1.0, "other": 0.0, "unknown": 0.0}}
        row = FlagRow(settlement_id="A1", kind=kind, score=0.85, reason="2 non-covered item(s) ...",
                      evidence={"items": [item]})
        session.add(row)
        s = session.get(SettlementRow, "A1")
        s.items = {"lines": [{"item_code": "X1", "item_name": "<script>alert(1)</script>", "quantity": "1",
                              "unit_price": "9.50", "category": "covered"}]}
        session.flush()
        fid = row.id
    engine.dispose()
    return fid


def test_goods_unclear_shows_what_was_seen_beside_the_bill_too(city, client_for):
    """The review-only kind is decided from the same evidence as a goods swap."""
    fid = goods_flag(city.settings, kind="goods_unclear")
    raw = client_for("insp_a").get(f"/flags/{fid}", headers=ZH).text
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", raw)))
    assert 'id="decide-goods"' in raw and "医保药品 × 1" in text and "药品 × 1" in text
    assert re.findall(rf"/flags/{fid}/crops/(\d+)\.jpg", raw) == ["1", "2"]


def _view_subjects(settings) -> set[str]:
    engine = make_engine(settings.db_url)
    with session_factory(engine)() as session:
        subjects = set(session.scalars(select(AuditLogEntry.subject).where(AuditLogEntry.action == "view_evidence")))
    engine.dispose()
    return subjects


def test_goods_swap_names_what_was_seen_with_crops_in_chinese(city, client_for):
    fid = goods_flag(city.settings)
    client = client_for("insp_a")
    raw = client.get(f"/flags/{fid}", headers=ZH).text
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", raw)))
    assert "柜台上看到" in text and "非医保商品（食品、饮料、化妆品、日用品） × 2" in text and "药品 × 1" in text
    assert "医保药品 × 1" in text  # the bill, by category in Chinese
    assert ">covered<" not in raw and ">other<" not in raw  # no raw category codes
    assert "<script>alert(1)</script>" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    crops = re.findall(rf"/flags/{fid}/crops/(\d+)\.jpg", raw)
    assert crops == ["1", "2"]  # the detector's boxes, not the person
    image = client.get(f"/flags/{fid}/crops/1.jpg")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(image.content)) as piece:
        assert max(piece.size) <= 256 and piece.size[0] >= 80  # the 80 px box with a little margin
    assert client.get(f"/flags/{fid}/crops/0.jpg").status_code == 404  # a person: not a crop
    looked = _view_subjects(city.settings)
    assert f"flag:{fid}:crop:1" in looked  # looking at a crop is in the audit log
    assert client.get(f"/flags/{fid}/crops/7.jpg").status_code == 404
    # another district's inspector gets nothing, not even the crop
    other = client_for("insp_b")
    assert other.get(f"/flags/{fid}/crops/1.jpg").status_code == 404
    assert other.get(f"/flags/{fid}", headers=ZH).status_code == 404
    assert client_for(None).get(f"/flags/{fid}/crops/1.jpg", follow_redirects=False).status_code in (401, 303)


# -- 进销存, 追溯码, partners ------------------------------------------------------------------------

def test_stock_shortfall_shows_the_ledger(city, client_for):
    records_audit(city.settings)
    text = _page(client_for("insp_a"), city.settings, "R2", "stock_shortfall")
    assert "D1 阿莫西林胶囊 的进销存台账" in text
    assert re.search(r"2026-11-20 10:00:00 盘点 1 1 ", text)
    assert re.search(r"2026-11-20 10:30:00 进货 \+0\.50? 1\.50? 供应商: 国药控股 · 发票号: INV-778", text)
    assert re.search(r"2026-11-20 11:00:00 销售 −1 0\.50? R1 ", text)
    assert re.search(r"2026-11-20 11:01:00 销售 −1 -0\.50? R2 \( ?本笔销售 ?\)", text)


def test_trace_code_reuse_shows_the_codes_and_the_other_settlements(city, client_for):
    records_audit(city.settings)
    text = _page(client_for("insp_a"), city.settings, "R1", "trace_code_reuse")
    assert "本笔结算各行的药品追溯码" in text and re.search(rf"1 D1 阿莫西林胶囊 1 {CODE}", text)
    assert re.search(rf"R2 2026-11-20 11:01:00 · 晚 1 分钟 PH1 East Pharmacy .* 共同的追溯码: {CODE}", text)
    assert re.search(r"R3 其他辖区：仅显示核对所需信息 2026-11-20 11:03:00 · 晚 3 分钟 PH2 West Pharmacy", text)


def test_partners_in_another_district_show_only_the_deciding_facts(city, client_for):
    records_audit(city.settings)
    r3 = _flag(city.settings, "R3", "card_conflict")
    raw = client_for("insp_a").get(f"/flags/{_flag(city.settings, 'R1', 'card_conflict')}", headers=ZH).text
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", raw)))
    part = text[text.index("相关的其他结算"):]
    assert re.search(r"R3 其他辖区：仅显示核对所需信息 2026-11-20 11:03:00 · 晚 3 分钟 PH2 West Pharmacy · 柜台 C1 · "
                     r"金额 9.50 相距 12.0 公里，车程约 12 分钟 · 两地之间至少需要 1[12] 分", part), part[:600]
    assert f"/flags/{r3}" not in raw  # no way into the other district
    engine, factory = _session(city.settings)
    with factory() as session:
        r3_card = session.get(SettlementRow, "R3").card_hash
    engine.dispose()
    assert r3_card[:16] not in raw.replace(_card_of(city.settings, "R1")[:16], "")
    # a supervisor (every district) gets the link
    assert f"/flags/{r3}" in client_for("sup").get(f"/flags/{_flag(city.settings, 'R1', 'card_conflict')}").text


def _card_of(settings, sid):
    engine, factory = _session(settings)
    with factory() as session:
        card = session.get(SettlementRow, sid).card_hash
    engine.dispose()
    return card


def test_duplicate_and_burst_partners_with_their_facts(city, client_for):
    records_audit(city.settings)
    client = client_for("insp_a")
    dup = _page(client, city.settings, "D6", "duplicate_settlement")
    assert re.search(r"D5 2026-11-20 11:10:00 · 早 30 秒 PH1 East Pharmacy · 柜台 C1 · 金额 9.50 同一药店", dup)
    burst = _page(client, city.settings, "BU3", "burst")
    assert "相关的其他结算（5 笔）" in burst
    assert re.search(r"BU0 2026-11-20 11:20:00 · 早 1 分 12 秒 PH1", burst)


def test_pooling_partner_in_another_district(city, client_for):
    """A same-face pooling flag on A1 naming B1 (district B): B1's time, pharmacy and amount, no link."""
    engine, factory = _session(city.settings)
    with transaction(factory) as session:
        row = FlagRow(settlement_id="A1", kind="card_pooling", score=0.8, reason="The same face ...",
                      evidence={"items": [{"t": T0.isoformat(), "seen": {"same_face_settlements": ["B1"],
                                                                          "distinct_cards": 3}}]})
        session.add(row)
        session.flush()
        fid = row.id
    engine.dispose()
    b1 = city.flags["B1"]
    raw = client_for("insp_a").get(f"/flags/{fid}", headers=ZH).text
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", raw)))
    assert re.search(r"B1 其他辖区：仅显示核对所需信息 2026-11-20 10:00:45 · 同一时刻 PH2 West Pharmacy · 柜台 C1 · "
                     r"金额 9.50 距离未知", text)
    assert f'href="/flags/{b1}' not in raw
