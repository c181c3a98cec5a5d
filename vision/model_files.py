"""Model files on disk: one check that a model is there, shared by every runtime (onnxruntime,
OpenVINO), so no runtime module imports another."""

from __future__ import annotations

from pathlib import Path

from rxaudit.errors import ModelError


def existing_model(path: Path) -> Path:
    """``path``, or a ModelError when the model file is not there."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} is missing (reinstall, or see vision/models/PROVENANCE.md)")
    return path
