"""Opening a video store from what the user typed: a local folder, ``s3://bucket/prefix`` (any
S3-compatible store) or ``https://host/prefix``. Credentials never come from the command line:
S3 uses the standard ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` variables (or an instance
role) and ``s3_endpoint_url`` from settings for MinIO, OSS, OBS or Ceph."""

from __future__ import annotations

from pathlib import Path

from ingest.video_store import LocalVideoStore, VideoStore
from rxaudit.errors import StoreError
from rxaudit.settings import Settings

REMOTE = ("s3://", "https://", "http://")


def store_location(videos: str) -> str:
    """The canonical form recorded with a run: an absolute path or the URL as given."""
    if videos.startswith(REMOTE):
        return videos.rstrip("/")
    return str(Path(videos).resolve())


def open_store(videos: str, settings: Settings) -> VideoStore:
    if videos.startswith(REMOTE):
        from ingest.remote_store import FsspecVideoStore

        return FsspecVideoStore.from_url(videos, settings)
    if "://" in videos:
        raise StoreError(f"unsupported video store URL {videos!r} (use a folder, s3:// or https://)")
    return LocalVideoStore(Path(videos))
