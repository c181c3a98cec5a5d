"""The sign-in limiter: X-Forwarded-For is believed only from configured proxies (also under uvicorn
as ``rxaudit serve`` runs it), a locked-out name does not lock out its neighbours, one address
cannot try names for ever, unknown names cost one password check like known ones, and the
limiter's memory does not outlive its window."""

from __future__ import annotations

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from api.app import create_app
from api.ratelimit import LoginLimiter, client_address, networks
from rxaudit import security
from rxaudit.errors import RateLimited
from tests.api.conftest import running, sign_in

WRONG = "wrong password!"


@pytest.fixture
def app_with(city, make_settings):
    def make(**overrides):
        settings = make_settings(db_url=city.settings.db_url, evidence_dir=str(city.settings.evidence_dir),
                                 **overrides)
        return create_app(settings)
    return make


def test_forwarded_for_from_loopback_is_not_believed_by_the_served_app(app_with):
    app = app_with(login_max_failures_per_address=5)
    with running(app) as url, httpx.Client(base_url=url) as client:
        for k in range(5):  # five names, each "from" a different forwarded address
            client.headers["X-Forwarded-For"] = f"203.0.113.{k}"
            assert sign_in(client, f"guess{k}", WRONG).status_code == 303
        client.headers["X-Forwarded-For"] = "203.0.113.99"
        assert sign_in(client, "insp_a").status_code == 429  # it is one address: 127.0.0.1


def test_forwarded_for_is_believed_from_a_trusted_proxy_only(app_with):
    app = app_with(trusted_proxies=["10.0.0.0/8"], login_max_failures=3)
    proxy = TestClient(app, client=("10.1.2.3", 40000))
    for _ in range(3):
        proxy.headers["X-Forwarded-For"] = "198.51.100.7"
        assert sign_in(proxy, "insp_a", WRONG).status_code == 303
    # the client cannot escape by prepending an address of its own choosing
    proxy.headers["X-Forwarded-For"] = "192.0.2.1, 198.51.100.7"
    assert sign_in(proxy, "insp_a").status_code == 429
    # another person behind the same proxy is not locked out
    proxy.headers["X-Forwarded-For"] = "198.51.100.8"
    assert sign_in(proxy, "insp_a").status_code == 303
    # a peer that is not a trusted proxy cannot pick its address with the header
    direct = TestClient(app, client=("192.0.2.50", 40000))
    for k in range(3):
        direct.headers["X-Forwarded-For"] = f"203.0.113.{k}"
        assert sign_in(direct, "insp_b", WRONG).status_code == 303
    assert sign_in(direct, "insp_b").status_code == 429


def test_a_locked_out_name_does_not_lock_out_others_at_the_same_address(client_for):
    client = client_for(None)
    for _ in range(5):
        assert sign_in(client, "insp_a", WRONG).status_code == 303
    assert sign_in(client, "insp_a").status_code == 429
    assert sign_in(client_for(None), "insp_b").status_code == 303  # same address, another person


def test_one_address_cannot_try_many_names(app_with):
    client = TestClient(app_with(login_max_failures_per_address=4))
    for k in range(4):
        assert sign_in(client, f"guess{k}", WRONG).status_code == 303
    assert sign_in(client, "insp_b").status_code == 429


class CountingHasher(PasswordHasher):
    __slots__ = ("calls",)

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        self.calls += 1
        return super().verify(hash, password)


@pytest.mark.parametrize("name", ["insp_a", "nobody_by_this_name"])
def test_unknown_names_cost_one_password_check_like_known_ones(client_for, monkeypatch, name):
    hasher = CountingHasher()
    hasher.calls = 0
    monkeypatch.setattr(security, "_hasher", hasher)
    assert sign_in(client_for(None), name, WRONG).status_code == 303
    assert hasher.calls == 1


@pytest.mark.parametrize("peer, header, trusted, expected", [
    ("192.0.2.1", None, [], "192.0.2.1"),
    ("192.0.2.1", "203.0.113.5", [], "192.0.2.1"),
    ("10.0.0.2", "203.0.113.5", ["10.0.0.0/8"], "203.0.113.5"),
    ("10.0.0.2", "6.6.6.6, 203.0.113.5", ["10.0.0.0/8"], "203.0.113.5"),
    ("10.0.0.2", "203.0.113.5, 10.0.0.9", ["10.0.0.0/8"], "203.0.113.5"),
    ("10.0.0.2", "10.0.0.7, 10.0.0.9", ["10.0.0.0/8"], "10.0.0.7"),
    ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
    ("::1", "2001:db8::5", ["::1"], "2001:db8::5"),
    (None, "203.0.113.5", ["10.0.0.0/8"], "?"),
])
def test_client_address(peer, header, trusted, expected):
    assert client_address(peer, header, networks(trusted)) == expected


def test_limiter_forgets_failures_after_the_window():
    now = [0.0]
    limiter = LoginLimiter(2, 1000, window_s=60, clock=lambda: now[0])
    for k in range(500):
        limiter.failed(f"name{k}", "192.0.2.1")
    limiter.failed("name0", "192.0.2.1")
    with pytest.raises(RateLimited):
        limiter.check("name0", "192.0.2.1")
    limiter.check("name1", "192.0.2.1")
    assert limiter.tracked() == 501
    now[0] = 61.0
    limiter.check("name0", "192.0.2.1")
    assert limiter.tracked() == 0


def test_trusted_proxies_must_be_addresses(make_settings):
    from rxaudit.errors import ConfigError
    with pytest.raises(ConfigError, match="trusted_proxies"):
        make_settings(trusted_proxies=["proxy.example"])
