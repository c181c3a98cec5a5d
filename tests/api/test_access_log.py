"""The server's log never shows a credential: a stream token in a query string (what ``<img>`` and
``<video>`` on another origin send) is written as ``token=***``, an API key or Authorization header as
``***``; checked on uvicorn started as ``rxaudit serve`` starts it, and on the masking itself."""

from __future__ import annotations

import logging

import httpx
import pytest

from api.server import MaskSecrets, mask_secrets
from rxaudit.security import KEY_PREFIX, new_secret
from tests.api.conftest import running

API_KEY = new_secret(KEY_PREFIX)
STREAM_TOKEN = "eyJrIjoiZmxhZyIsInIiOiIxIn0." + new_secret()[:43]

MASKED = [
    ("GET /flags/2/keyframes/0.jpg?token=eyJhbGc.eyJzdWIi.sig HTTP/1.1",
     "GET /flags/2/keyframes/0.jpg?token=*** HTTP/1.1"),
    ("/api/v1/events?kind=burst&token=abc-_.~%2B&district=A", "/api/v1/events?kind=burst&token=***&district=A"),
    ("/flags/1/clip.mp4?TOKEN=abc#t=3", "/flags/1/clip.mp4?TOKEN=***#t=3"),
    ("/x?access_token=abc", "/x?access_token=***"),
    ("/x?token=", "/x?token=***"),
    ("Authorization: Bearer rxa_secret", "Authorization: ***"),
    ('{"authorization": "Basic dXNlcjpwYXNz"}', '{"authorization": "***"}'),
    ("sent Bearer rxa_secret twice", "sent Bearer *** twice"),
    ("/x?tok%65n=abc&y=1", "/x?tok%65n=***&y=1"),  # the app decodes parameter names: so does the mask
    ("/x?%74oken=abc", "/x?%74oken=***"),
    ("/x?%2574%256Fken=abc", "/x?%2574%256Fken=***"),
    ("/x?access%5Ftoken=abc", "/x?access%5Ftoken=***"),
    (f"/x?key={API_KEY}", "/x?key=***"),  # our credentials under any name
    (f"/x?k={API_KEY.replace('_', '%5F', 1)}", "/x?k=***"),
    (f"/x?t={STREAM_TOKEN}&y=1", "/x?t=***&y=1"),
    (f"/x?t={STREAM_TOKEN.replace('.', '%2E')}", "/x?t=***"),
    (f"/x/{STREAM_TOKEN}/y", "/x/***/y"),
    (f"key {API_KEY} leaked", "key *** leaked"),
]
KEPT = ["/api/v1/stream-tokens", "/flags?page=2&kind=burst", "tokens expire after 300 s", "/x?tokenize=1",
        "/x?tok%65nize=1", "/x?name=%74oken", "/flags/12/keyframes/0.jpg", "rxaudit 1.2.3", "/x?rxa_=1",
        "/audit?date_from=2026-11-20&date_to=2026-11-21"]


@pytest.mark.parametrize(("text", "masked"), MASKED)
def test_credentials_are_masked(text, masked):
    assert mask_secrets(text) == masked


@pytest.mark.parametrize("text", KEPT)
def test_other_text_is_kept(text):
    assert mask_secrets(text) == text


def test_the_filter_masks_a_records_arguments_and_message():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/flags/1/clip.mp4?token=SECRET", "1.1", 200), None)
    assert MaskSecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /flags/1/clip.mp4?token=*** HTTP/1.1" 200'


def test_the_access_log_of_rxaudit_serve_masks_stream_tokens(app, city, capsys):
    key = city.keys["key_all"]
    with running(app, log_level="info") as url:
        bearer = {"Authorization": f"Bearer {key}"}
        token = httpx.post(f"{url}/api/v1/stream-tokens", headers=bearer).json()["token"]
        frame = httpx.get(f"{url}/api/v1/flags/{city.flags['A1']}", headers=bearer).json()["keyframe_urls"][0]
        assert httpx.get(f"{url}{frame}", params={"token": token}).status_code == 200
        assert httpx.get(f"{url}{frame}", params={"token": token + "x"}).status_code == 401
        for name in ("tok%65n", "%74oken"):  # names the app decodes to "token"
            assert httpx.get(f"{url}{frame}?{name}={token}").status_code == 200
    captured = capsys.readouterr()
    log = captured.out + captured.err
    assert f'"GET {frame}?token=*** HTTP/1.1" 200' in log and f'"GET {frame}?token=*** HTTP/1.1" 401' in log
    assert f'"GET {frame}?tok%65n=*** HTTP/1.1" 200' in log and f'"GET {frame}?%74oken=*** HTTP/1.1" 200' in log
    assert token not in log and key not in log
