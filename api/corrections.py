"""The frame a reviewer's corrected boxes are drawn on: its size bounds every box (``rxaudit.boxes``)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from api.evidence import inside
from audit.counter_audit import raw_frame_name
from database.queries import FlagView
from rxaudit.errors import NotFound
from rxaudit.settings import Settings


def frame_size(settings: Settings, view: FlagView) -> tuple[int, int] | None:
    """(width, height) of the raw frame at the swipe (what ``rxaudit dataset export`` trains on), else
    of the flag's first keyframe (the same frame, drawn on); None when neither can be read."""
    root = Path(settings.evidence_dir)
    names = [raw_frame_name(view.settlement.settlement_id)]
    names += [item["keyframe"] for item in view.flag.evidence.get("items", []) if item.get("keyframe")][:1]
    for name in names:
        try:
            with Image.open(inside(root, name)) as image:
                return image.size
        except (OSError, NotFound, Image.DecompressionBombError):
            continue
    return None
