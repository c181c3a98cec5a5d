"""Sign-in rate limiting, and who the client is.

Failures are counted in a sliding window per (account name, client address) and, with a looser cap,
per client address. A name locked out from one address does not lock out the other people who share
that address (an office behind one NAT), and one address cannot try many names for long. Past a
limit, sign-in is refused (429) before any password is checked.

The client address is the connection's peer. ``X-Forwarded-For`` is believed only when the peer is
one of ``settings.trusted_proxies``; then the client is the right-most hop that is not itself a
trusted proxy (the hops to its left are whatever the client chose to send).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from rxaudit.errors import RateLimited

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_KEYS = 100_000  # past this many tracked keys, expired ones are swept


def networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _trusted(host: str, trusted: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address sign-in failures are counted against (see the module docstring)."""
    if not peer:
        return "?"
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


class LoginLimiter:
    def __init__(self, max_failures: int, max_per_address: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.max_per_address, self.window_s = max_failures, max_per_address, window_s
        self._clock = clock
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def _count(self, key: tuple[str, ...], now: float) -> int:
        q = self._failures.get(key)
        while q and now - q[0] > self.window_s:
            q.popleft()
        if q is not None and not q:
            del self._failures[key]
            return 0
        return len(q) if q else 0

    def _limits(self, name: str, address: str) -> list[tuple[tuple[str, ...], int]]:
        return [(("pair", name, address), self.max_failures), (("address", address), self.max_per_address)]

    def check(self, name: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if any(self._count(key, now) >= limit for key, limit in self._limits(name, address)):
                raise RateLimited("too many failed sign-ins; try again in a few minutes")

    def failed(self, name: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > MAX_KEYS:
                for key in list(self._failures):
                    self._count(key, now)
            for key, _ in self._limits(name, address):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop(("pair", name, address), None)

    def tracked(self) -> int:
        """How many keys hold failures still inside the window (expired ones are dropped)."""
        now = self._clock()
        with self._lock:
            for key in list(self._failures):
                self._count(key, now)
            return len(self._failures)
