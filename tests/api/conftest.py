"""A reviewed city in miniature: two districts, audited with fake detectors over real clips."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from ingest.video_store import segment_name
from database.accounts import add_user, create_api_key, load_pharmacies
from database.engine import make_engine, migrate, session_factory, transaction
from database.models import FlagRow
from audit.pipeline import Models, audit
from rxaudit.security import Role
from tests.fakes import BrightBlockPersons, NoFaces, scene_frame
from tests.videos import make_clip

CHROMIUM = "/usr/bin/chromium"
TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
PASSWORD = "correct horse battery"
USERS = {"insp_a": (Role.INSPECTOR, ["A"]), "insp_b": (Role.INSPECTOR, ["B"]),
         "sup": (Role.SUPERVISOR, []), "adm": (Role.ADMIN, [])}


@dataclass
class City:
    settings: object
    root: Path
    flags: dict[str, int] = field(default_factory=dict)  # settlement id -> a flag id
    keys: dict[str, str] = field(default_factory=dict)


def build_city(root: Path, settings) -> City:
    videos = root / "videos"
    for pharmacy in ("PH1", "PH2", "PHX"):
        frames = [scene_frame(10 <= k / 10 < 30) for k in range(60 * 10)]
        make_clip(videos / pharmacy / "C1" / segment_name(T0), 60, fps=10, frames=frames)
    rows = ["settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount"]
    for sid, pharmacy, counter, sec in (("A1", "PH1", "C1", 45), ("A2", "PH1", "C1", 20),
                                        ("U1", "PH1", "C9", 20), ("B1", "PH2", "C1", 45),
                                        ("X1", "PHX", "C1", 45)):
        rows.append(f"{sid},{pharmacy},{counter},{(T0 + timedelta(seconds=sec)).isoformat()},CARD-{sid},9.50")
    (root / "settlements.csv").write_text("\n".join(rows) + "\n")
    audit(settings, settlements_file=root / "settlements.csv", videos=videos,
          models=Models(BrightBlockPersons(), NoFaces()))
    (root / "pharmacies.csv").write_text("pharmacy_id,name,district\nPH1,East Pharmacy,A\nPH2,West Pharmacy,B\n")
    city = City(settings, root)
    engine = make_engine(settings.db_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        load_pharmacies(session, path=root / "pharmacies.csv")
        for name, (role, districts) in USERS.items():
            add_user(session, name=name, role=role, password=PASSWORD, districts=districts)
        city.keys["key_a"] = create_api_key(session, name="wall-a", districts=["A"])[1]
        city.keys["key_b"] = create_api_key(session, name="wall-b", districts=["B"])[1]
        city.keys["key_all"] = create_api_key(session, name="wall-city", districts=[])[1]
        for flag in session.scalars(select(FlagRow).where(FlagRow.kind == "no_customer")):
            city.flags[flag.settlement_id] = flag.id
    engine.dispose()
    return city


@pytest.fixture(scope="session")
def city_template(tmp_path_factory) -> City:
    from rxaudit.settings import load_settings
    from tests.conftest import TEST_KEY

    root = tmp_path_factory.mktemp("city")
    settings = load_settings(db_url=f"sqlite:///{root}/rx.db", evidence_dir=str(root / "evidence"),
                             card_hash_key=TEST_KEY)
    return build_city(root, settings)


@pytest.fixture
def city(city_template, tmp_path, make_settings) -> City:
    """A private copy of the audited city (database and evidence) for each test."""
    shutil.copyfile(city_template.root / "rx.db", tmp_path / "rx.db")
    shutil.copytree(city_template.root / "evidence", tmp_path / "evidence")
    settings = make_settings(db_url=f"sqlite:///{tmp_path}/rx.db", evidence_dir=str(tmp_path / "evidence"))
    return City(settings, tmp_path, dict(city_template.flags), dict(city_template.keys))


@pytest.fixture
def app(city):
    return create_app(city.settings)


def sign_in(client: TestClient, name: str, password: str = PASSWORD):
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf": csrf},
                       follow_redirects=False)


def csrf_of(client: TestClient) -> str:
    page = client.get("/flags")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


@pytest.fixture
def client_for(app, city):
    """client_for("insp_a") -> a signed-in client; "key_a" -> a client sending that API key."""
    def make(who: str | None) -> TestClient:
        client = TestClient(app)
        if who in USERS:
            assert sign_in(client, who).status_code == 303
        elif who in city.keys:
            client.headers["Authorization"] = f"Bearer {city.keys[who]}"
        return client
    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(app, *, log_level: str = "warning") -> Iterator[str]:
    """The app under uvicorn exactly as ``rxaudit serve`` runs it, on a free loopback port."""
    import uvicorn

    from api.server import server_config

    srv = uvicorn.Server(server_config(app, host="127.0.0.1", port=free_port(), log_level=log_level))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{srv.config.port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(app) -> Iterator[str]:
    with running(app) as url:
        yield url


@pytest.fixture
def browser():
    """Debian chromium driven by Playwright (headless)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run installs it)")
        pytest.skip("Debian chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()
