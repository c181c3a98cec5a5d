"""Case-file exports are bounded per process (``api.app.EXPORTS_AT_ONCE``): while that many are being
built, another is refused at once with 503 and Retry-After (JSON for the API, the translated error
page for a browser), and a slot frees as soon as an export ends, whether it succeeded or failed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api import routes_evidence
from api.app import EXPORTS_AT_ONCE
from rxaudit.errors import ExportsBusy
from tests.api.test_i18n import ZH

SELECTION = "/export.zip?date_from=2026-01-01&date_to=2030-12-31"


@pytest.fixture
def slow_build(monkeypatch):
    """build_case_zip that waits for ``release`` (set it to let the held exports finish)."""
    started, release = threading.Semaphore(0), threading.Event()
    real = routes_evidence.build_case_zip

    def slow(*args, **kwargs):
        started.release()
        assert release.wait(30), "the test never released the held exports"
        return real(*args, **kwargs)

    monkeypatch.setattr(routes_evidence, "build_case_zip", slow)
    yield started, release
    release.set()


def test_a_third_export_at_once_is_refused_with_retry_after(city, app, client_for, slow_build):
    started, release = slow_build
    key = {"Authorization": f"Bearer {city.keys['key_all']}"}
    with ThreadPoolExecutor(EXPORTS_AT_ONCE) as pool:
        held = [pool.submit(TestClient(app).get, SELECTION, headers=key) for _ in range(EXPORTS_AT_ONCE)]
        for _ in range(EXPORTS_AT_ONCE):
            assert started.acquire(timeout=30)
        refused = client_for("key_all").get(SELECTION)
        page = client_for("sup").get(SELECTION, headers={**ZH, "Accept": "text/html"})
        release.set()
        answers = [future.result(timeout=60) for future in held]
    assert refused.status_code == 503 and refused.headers["Retry-After"] == str(ExportsBusy.retry_after_s)
    assert "case files" in refused.json()["detail"]
    assert page.status_code == 503 and "<html" in page.text and "案卷" in page.text
    assert [a.status_code for a in answers] == [200] * EXPORTS_AT_ONCE
    assert client_for("key_all").get(SELECTION).status_code == 200  # the slots were given back


def test_a_failed_export_gives_its_slot_back(city, app, client_for, monkeypatch):
    def failing(*args, **kwargs):
        raise RuntimeError("build failed")

    monkeypatch.setattr(routes_evidence, "build_case_zip", failing)
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {city.keys['key_all']}"
    assert [client.get(SELECTION).status_code for _ in range(EXPORTS_AT_ONCE + 1)] == [500] * (EXPORTS_AT_ONCE + 1)
    monkeypatch.undo()
    assert client.get(SELECTION).status_code == 200
