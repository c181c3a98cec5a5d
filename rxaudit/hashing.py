"""File digests: one streaming sha256 for model provenance checks and case-file manifests."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks (model files, clips)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str) -> Path:
    """``path`` if its sha256 is ``expected``; otherwise stop, naming the file."""
    if sha256_file(path) != expected:
        raise SystemExit(f"{Path(path).name}: sha256 mismatch, refusing to use it")
    return path
