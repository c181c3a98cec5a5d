"""Which streams to record: the counters of ``cameras.yaml`` that name a ``stream:``, their
credentials (from the environment or a secrets file, never the YAML) and their shard.

A camera's URL with its password goes only to ``av.open``; everything shown (logs, errors, the
database, pages) uses :func:`redact` or :meth:`Camera.scrub`: ``rtsp://user:***@host/...``."""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from ingest.cameras import CamerasConfig, read_yaml
from ingest.video_store import check_id
from rxaudit.errors import ConfigError, StoreError

ENV_PREFIX = "RXAUDIT_CAMERA_"  # RXAUDIT_CAMERA_<NAME>=user:password


def redact(url: str) -> str:
    """``rtsp://user:secret@host/x`` -> ``rtsp://user:***@host/x``; a URL without one unchanged."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" not in authority:
        return url
    userinfo, _, host = authority.rpartition("@")
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{host}{slash}{tail}"


@dataclass(frozen=True)
class Camera:
    pharmacy_id: str
    counter_id: str
    url: str = field(repr=False)  # with credentials: for av.open only
    timezone: ZoneInfo = field(default=ZoneInfo("Asia/Shanghai"))
    secrets: tuple[str, ...] = field(default=(), repr=False)  # password as given and as quoted

    @property
    def key(self) -> str:
        return f"{self.pharmacy_id}/{self.counter_id}"

    @property
    def shown(self) -> str:
        return redact(self.url)

    def scrub(self, text: str) -> str:
        """Any text about this camera (an FFmpeg error quoting the URL) with the password hidden."""
        text = text.replace(self.url, self.shown)
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def load_secrets(path: Path | None) -> dict[str, str]:
    """A YAML mapping ``NAME: "user:password"``; values never appear in an error."""
    if path is None:
        return {}
    data = read_yaml(path, "the camera secrets file (a YAML mapping of NAME: user:password)", detail=False) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a YAML mapping of NAME: user:password")
    for name, value in data.items():
        if not isinstance(name, str) or not isinstance(value, str) or ":" not in value:
            raise ConfigError(f"{path}: {name}: the value must be the string user:password")
    return data


def _credentials(name: str, secrets: Mapping[str, str], environ: Mapping[str, str], where: str) -> tuple[str, str]:
    value = environ.get(ENV_PREFIX + name)
    if value is None:
        value = secrets.get(name)
    if value is None or ":" not in value:
        raise ConfigError(f"{where}: credentials {name}: set {ENV_PREFIX}{name}=user:password "
                          "or give it in the secrets file (--secrets)")
    user, _, password = value.partition(":")
    return user, password


def cameras_from_config(config: CamerasConfig, secrets: Mapping[str, str] | None = None,
                        environ: Mapping[str, str] | None = None) -> list[Camera]:
    """Every counter with a ``stream:``, in a stable order."""
    secrets = secrets or {}
    environ = os.environ if environ is None else environ
    cameras = []
    for pharmacy_id in sorted(config.pharmacies):
        pharmacy = config.pharmacies[pharmacy_id]
        tz = ZoneInfo(pharmacy.timezone or config.defaults.timezone)
        for counter_id in sorted(pharmacy.counters):
            counter = pharmacy.counters[counter_id]
            if counter.stream is None:
                continue
            where = f"pharmacies.{pharmacy_id}.counters.{counter_id}"
            try:
                check_id("pharmacy_id", pharmacy_id), check_id("counter_id", counter_id)
            except StoreError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
            url, hidden = counter.stream, ()
            if counter.credentials:
                user, password = _credentials(counter.credentials, secrets, environ, where)
                parts = urlsplit(url)
                quoted = quote(password, safe="")
                url = f"{parts.scheme}://{quote(user, safe='')}:{quoted}@{url.split('://', 1)[1]}"
                hidden = (password, quoted)
            cameras.append(Camera(pharmacy_id, counter_id, url, tz, hidden))
    return cameras


def parse_shard(text: str) -> tuple[int, int]:
    """``i/N`` (1 <= i <= N): this recorder takes the i-th of N shares."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError as exc:
        raise ConfigError(f"--shard {text!r}: give i/N, e.g. 1/3") from exc
    if not 1 <= i <= n:
        raise ConfigError(f"--shard {text!r}: i must be between 1 and N")
    return i, n


def shard(cameras: list[Camera], i: int, n: int) -> list[Camera]:
    """A stable share: a camera stays on its recorder when others are added or removed."""
    return [c for c in cameras if zlib.crc32(c.key.encode()) % n == i - 1]
