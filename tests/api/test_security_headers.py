"""Every response (pages, API, static files, error pages, even an unhandled error) carries the
security headers; pages and API answers are never stored by a cache; no template holds inline
script or an inline event handler (the policy forbids them)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT

HTML = {"Accept": "text/html"}


def assert_hardened(response, *, cache: str | None = "no-store") -> None:
    h = response.headers
    csp = {part.strip().split(" ")[0]: part.strip() for part in h["content-security-policy"].split(";")}
    assert csp["script-src"] == "script-src 'self'"  # no 'unsafe-inline', no other origin
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["default-src"] == "default-src 'self'" and csp["object-src"] == "object-src 'none'"
    assert "unsafe-inline" not in h["content-security-policy"]
    assert "unsafe-eval" not in h["content-security-policy"]
    assert h["x-frame-options"] == "DENY"
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin")
    if cache is not None:
        assert h["cache-control"] == cache


@pytest.mark.parametrize("who, url, status", [
    ("sup", "/flags", 200),
    ("sup", "/wall", 200),
    ("sup", "/flags/{flag}", 200),
    (None, "/login", 200),
    (None, "/health", 200),
    ("key_all", "/api/v1/flags", 200),
    ("key_all", "/api/v1/stats", 200),
    ("key_all", "/api/v1/flags/{flag}", 200),
    (None, "/api/v1/flags", 401),
    ("key_b", "/api/v1/flags/{flag}", 404),
    ("key_all", "/api/v1/flags?page=0", 422),
    ("sup", "/flags/999999", 404),
    ("sup", "/flags/not-a-number", 422),
    ("insp_b", "/flags/{flag}", 404),
    ("sup", "/no/such/page", 404),
    (None, "/flags", 303),
])
def test_pages_api_and_errors_carry_the_headers(client_for, city, who, url, status):
    response = client_for(who).get(url.format(flag=city.flags["A1"]), headers=HTML, follow_redirects=False)
    assert response.status_code == status
    assert_hardened(response)


@pytest.mark.parametrize("path", ["/static/wall.js", "/static/review.js", "/static/app.css"])
def test_static_files_carry_the_headers_and_are_revalidated(client_for, path):
    response = client_for(None).get(path)
    assert response.status_code == 200
    assert_hardened(response, cache="no-cache")


def test_a_rate_limited_sign_in_carries_the_headers(client_for):
    from tests.api.conftest import sign_in
    client = client_for(None)
    for _ in range(5):
        sign_in(client, "insp_a", "wrong password!")
    response = sign_in(client, "insp_a", "wrong password!")
    assert response.status_code == 429
    assert_hardened(response)


def test_an_unhandled_error_is_a_bare_500_with_the_headers(app):
    def boom() -> None:
        raise RuntimeError("secret detail that must not reach the client")

    app.add_api_route("/boom", boom)
    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert "secret detail" not in response.text and "Traceback" not in response.text
    assert_hardened(response)


def test_evidence_routes_keep_their_own_caching_but_get_the_other_headers(client_for, city):
    response = client_for("sup").get(f"/flags/{city.flags['A1']}/keyframes/0.jpg")
    assert response.status_code == 200
    assert_hardened(response, cache=None)
    assert "private" in response.headers["cache-control"]


TEMPLATES = sorted((ROOT / "api" / "templates").glob("*.html"))


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_templates_hold_no_inline_script_or_handler(template):
    text = template.read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", text, flags=re.I):
        assert re.search(r'\bsrc="/static/[\w.-]+\.js"', tag), f"inline script in {template.name}: {tag}"
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", text, flags=re.I), f"inline script in {template.name}"
    assert not re.search(r"\son[a-z]+\s*=", text, flags=re.I), f"inline event handler in {template.name}"
    assert not re.search(r"\sstyle\s*=", text, flags=re.I), f"inline style in {template.name}"
    assert "javascript:" not in text.lower()
