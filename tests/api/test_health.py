from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from rxaudit.settings import load_settings


def test_health_is_open():
    client = TestClient(create_app(load_settings()))
    response = client.get("/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_no_other_route_is_exposed_yet():
    app = create_app(load_settings())
    paths = {route.path for route in app.routes}
    assert paths - {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"} == set()
