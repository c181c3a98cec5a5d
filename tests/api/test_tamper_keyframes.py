"""A camera_tamper flag's page shows the pictures the recorder kept for its span: the last normal one
before it and the first tampered one, served from the evidence directory after the flag's scope check."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image
from sqlalchemy import select

from audit.pipeline import Models, audit
from database import cameras as camera_db
from database.engine import make_engine, session_factory, transaction
from database.models import FlagRow
from recorder.snapshots import save_tamper_keyframe
from tests.api.conftest import T0
from tests.fakes import BrightBlockPersons, NoFaces

EN = {"Accept-Language": "en"}


def jpeg(grey: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), (grey, grey, grey)).save(out, format="JPEG")
    return out.getvalue()


def test_the_flag_page_shows_the_spans_keyframes(city, city_template, client_for):
    settings = city.settings
    start = T0 + timedelta(seconds=40)
    before = save_tamper_keyframe(settings.evidence_dir, "PH1", "C1", start, "before", jpeg(140))
    after = save_tamper_keyframe(settings.evidence_dir, "PH1", "C1", start, "after", jpeg(16))
    factory = session_factory(make_engine(settings.db_url))
    with transaction(factory) as session:
        camera_db.open_tamper(session, pharmacy_id="PH1", counter_id="C1", what="black", start=start,
                              last_good_at=start - timedelta(seconds=5), keyframe_before=before, keyframe_after=after)
        camera_db.close_tamper(session, pharmacy_id="PH1", counter_id="C1", end=start + timedelta(seconds=20))
    # the audit again: A1 (10:00:45) now falls in the span
    audit(settings, settlements_file=city_template.root / "settlements.csv", videos=city_template.root / "videos",
          models=Models(BrightBlockPersons(), NoFaces()))
    with factory() as session:
        flag = session.scalars(select(FlagRow).where(FlagRow.settlement_id == "A1",
                                                     FlagRow.kind == "camera_tamper")).one()
        assert flag.evidence["items"][0]["seen"]["camera_tamper"][0]["keyframes"] == {"before": before,
                                                                                      "after": after}
    client = client_for("insp_a")
    page = client.get(f"/flags/{flag.id}", headers=EN).text
    strip = page.split('id="tamper-keyframes-0"', 1)[1].split("</div>", 1)[0]
    assert f'src="/flags/{flag.id}/tamper/0/before.jpg"' in strip and f'src="/flags/{flag.id}/tamper/0/after.jpg"' in strip
    got = client.get(f"/flags/{flag.id}/tamper/0/before.jpg")
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg" and got.content == jpeg(140)
    assert client.get(f"/flags/{flag.id}/tamper/0/after.jpg").content == jpeg(16)
    for bad in ("back", "..", "keyframe"):
        assert client.get(f"/flags/{flag.id}/tamper/0/{bad}.jpg").status_code == 404
    assert client.get(f"/flags/{flag.id}/tamper/1/before.jpg").status_code == 404
    assert client_for("insp_b").get(f"/flags/{flag.id}/tamper/0/before.jpg").status_code == 404  # district B
    # a flag of another kind has no such pictures
    other = city.flags["B1"]
    assert client_for("sup").get(f"/flags/{other}/tamper/0/before.jpg").status_code == 404
