"""The clip cache: concurrent first requests all get the same whole clip, cut once; a re-audit of
the settlement replaces its cached clip."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import av
from fastapi.testclient import TestClient

from ingest.video_store import segment_name
from audit.pipeline import Models, audit
from tests.api.conftest import T0
from tests.fakes import BrightBlockPersons, NoFaces, scene_frame
from tests.videos import make_clip


def frames_of(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        return sum(1 for _ in container.decode(stream))


def test_concurrent_first_requests_all_get_the_same_playable_clip(app, city):
    url = f"/flags/{city.flags['A1']}/clip.mp4"
    headers = {"Authorization": f"Bearer {city.keys['key_a']}"}
    barrier = threading.Barrier(8)

    def fetch(_):
        client = TestClient(app, headers=headers)
        barrier.wait()
        response = client.get(url)
        return response.status_code, response.headers.get("x-swipe-offset"), response.content

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, range(8)))
    assert [status for status, _, _ in results] == [200] * 8
    assert len({(offset, body) for _, offset, body in results}) == 1
    assert frames_of(results[0][2]) >= 150  # ~20 s at 10 fps
    clips = city.root / "evidence" / "clips"
    assert len(list(clips.glob("*.mp4"))) == 1 and not list(clips.glob(".*"))  # no leftovers
    again = TestClient(app, headers=headers).get(url)
    assert again.content == results[0][2]


def test_a_re_audit_replaces_the_cached_clip(app, city, city_template):
    client = TestClient(app, headers={"Authorization": f"Bearer {city.keys['key_a']}"})
    url = f"/flags/{city.flags['A1']}/clip.mp4"
    before = client.get(url)
    assert 9.0 <= float(before.headers["x-swipe-offset"]) <= 11.0
    # the counter's footage, re-delivered: it starts 40 s in (A1's swipe is at 45 s)
    videos = city.root / "videos2"
    make_clip(videos / "PH1" / "C1" / segment_name(T0 + timedelta(seconds=40)), 30, fps=10,
              frames=[scene_frame(False) for _ in range(300)])
    audit(city.settings, settlements_file=city_template.root / "settlements.csv", videos=videos,
          models=Models(BrightBlockPersons(), NoFaces()))
    after = client.get(url)
    assert after.status_code == 200
    assert 4.0 <= float(after.headers["x-swipe-offset"]) <= 6.0
    assert frames_of(after.content) < frames_of(before.content)
    assert len(list((city.root / "evidence" / "clips").glob("*.mp4"))) == 1  # the stale one is gone
