"""Video stores behind fsspec: ``s3://bucket/prefix`` (s3fs; MinIO, OSS, OBS, Ceph through
``s3_endpoint_url``) and ``https://host/prefix`` (HTTP listings + Range reads). Files are opened for
ranged reads of ``store_block_size`` bytes: a seek fetches what the decoder needs, never a whole day.
Transient failures (5xx, dropped connections) are retried a bounded number of times; what still
fails surfaces as FootageError, which makes a settlement unverifiable, never clean."""

from __future__ import annotations

import time
from typing import Any, BinaryIO
from urllib.parse import quote, unquote

from ingest.video_store import SEGMENT_NAME, check_id, parse_segment_name
from rxaudit.domain import Segment
from rxaudit.errors import FootageMissing, FootageUnreadable, StoreError
from rxaudit.settings import Settings


def _safe_uri(uri: str) -> str:
    parts = uri.split("/")
    if uri.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StoreError(f"path {uri!r} escapes the video store")
    return uri


class FsspecVideoStore:
    def __init__(self, fs: Any, root: str, *, block_size: int, retries: int, backoff_s: float = 0.2) -> None:
        self.fs, self.root = fs, root.rstrip("/")
        self.http = self.root.startswith(("http://", "https://"))  # names in links are URL-encoded
        self.block_size, self.retries, self.backoff_s = block_size, retries, backoff_s

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> FsspecVideoStore:
        if url.startswith("s3://"):
            import s3fs

            # botocore alone retries (bounded); s3fs's own retry loop would multiply it
            fs = s3fs.S3FileSystem(
                endpoint_url=settings.s3_endpoint_url, use_listings_cache=False,
                config_kwargs={"retries": {"max_attempts": settings.store_retries + 1, "mode": "standard"}})
            fs.retries = 1
            return cls(fs, url.removeprefix("s3://"), block_size=settings.store_block_size, retries=0)
        else:
            import fsspec

            fs = fsspec.filesystem(url.split("://", 1)[0], use_listings_cache=False)
            root = url
        return cls(fs, root, block_size=settings.store_block_size, retries=settings.store_retries)

    def _retry(self, what: str, call):
        for attempt in range(self.retries + 1):
            try:
                return call()
            except FileNotFoundError:
                raise
            except (OSError, TimeoutError, ConnectionError) as exc:  # s3fs/aiohttp map 5xx here
                if attempt == self.retries:
                    raise FootageUnreadable(f"{what}: {exc} (after {self.retries + 1} tries)") from exc
                time.sleep(self.backoff_s * (2 ** attempt))
        raise AssertionError("unreachable")

    def _counter_path(self, pharmacy_id: str, counter_id: str) -> str:
        return f"{self.root}/{check_id('pharmacy_id', pharmacy_id)}/{check_id('counter_id', counter_id)}"

    def _names(self, pharmacy_id: str, counter_id: str) -> list[str]:
        path = self._counter_path(pharmacy_id, counter_id)
        try:
            entries = self._retry(f"listing {path}", lambda: self.fs.ls(path, detail=False))
        except FileNotFoundError:
            return []
        names = (e.rstrip("/").rsplit("/", 1)[-1] for e in entries)
        return sorted(unquote(n) if self.http else n for n in names)

    def has_counter(self, pharmacy_id: str, counter_id: str) -> bool:
        try:
            return any(SEGMENT_NAME.match(n) for n in self._names(pharmacy_id, counter_id))
        except StoreError:
            return False

    def list_segments(self, pharmacy_id: str, counter_id: str) -> list[Segment]:
        segments = []
        for name in self._names(pharmacy_id, counter_id):
            start = parse_segment_name(name)
            if start is not None:
                segments.append(Segment(pharmacy_id, counter_id, start, f"{pharmacy_id}/{counter_id}/{name}"))
        return segments

    def open(self, uri: str) -> BinaryIO:
        safe = _safe_uri(uri)
        path = f"{self.root}/{quote(safe) if self.http else safe}"
        try:
            return self._retry(f"opening {uri}", lambda: self.fs.open(
                path, "rb", block_size=self.block_size))
        except FileNotFoundError as exc:
            raise FootageMissing(f"segment {uri} is missing from the store") from exc
