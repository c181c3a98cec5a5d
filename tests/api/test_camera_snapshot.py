"""GET /api/v1/cameras/{pharmacy}/{counter}/snapshot.jpg: the recorder's latest picture of a counter,
district-scoped (another district's counter answers as a counter without one), with its time."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image

from recorder.snapshots import write_snapshot

AT = datetime(2026, 12, 7, 3, 0, 1, 250000, tzinfo=UTC)


def jpeg(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), colour).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def pictures(city):
    for pharmacy in ("PH1", "PH2"):
        write_snapshot(city.settings.snapshots, pharmacy, "C1", jpeg((200, 20, 20)), AT)
    return city


@pytest.mark.parametrize("who, ph1, ph2", [("insp_a", 200, 404), ("insp_b", 404, 200), ("key_a", 200, 404),
                                           ("sup", 200, 200)])
def test_snapshots_are_district_scoped(pictures, client_for, who, ph1, ph2):
    client = client_for(who)
    assert client.get("/api/v1/cameras/PH1/C1/snapshot.jpg").status_code == ph1
    assert client.get("/api/v1/cameras/PH2/C1/snapshot.jpg").status_code == ph2


def test_the_latest_picture_and_its_time(pictures, client_for):
    client = client_for("sup")
    answer = client.get("/api/v1/cameras/PH1/C1/snapshot.jpg")
    assert answer.headers["content-type"] == "image/jpeg" and answer.headers["cache-control"] == "no-store"
    assert answer.content == jpeg((200, 20, 20))
    assert answer.headers["x-snapshot-time"] == "2026-12-07T11:00:01.250+08:00"
    write_snapshot(pictures.settings.snapshots, "PH1", "C1", jpeg((20, 200, 20)), AT.replace(second=3))
    again = client.get("/api/v1/cameras/PH1/C1/snapshot.jpg")
    assert again.content == jpeg((20, 200, 20)) and again.headers["x-snapshot-time"].startswith("2026-12-07T11:00:03")


def test_no_snapshot_bad_ids_and_no_auth(pictures, client_for):
    client = client_for("sup")
    assert client.get("/api/v1/cameras/PH1/C9/snapshot.jpg").status_code == 404
    assert client.get("/api/v1/cameras/PH1/..%2F..%2Fetc/snapshot.jpg").status_code == 404
    assert client.get("/api/v1/cameras/PH1/.C1/snapshot.jpg").status_code == 404
    assert client_for(None).get("/api/v1/cameras/PH1/C1/snapshot.jpg").status_code == 401
