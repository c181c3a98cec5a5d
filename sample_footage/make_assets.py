"""Cut the few real-people sprites the generator uses out of ../shared/footage (CC BY 4.0, Intel
Corporation, "sample-videos"). Run once; the sprites are committed so a clone stands alone:

    python -m sample_footage.make_assets ../shared/footage
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ASSETS = Path(__file__).resolve().parent / "assets"

# actor: (source gif, crop box x1, y1, x2, y2, frame step, max frames)
SPRITES = {
    "male": ("head-pose-face-detection-male.gif", (110, 0, 380, 270), 3, 16),
    "female": ("head-pose-face-detection-female.gif", (110, 10, 350, 270), 2, 12),
    "class_right": ("classroom.gif", (276, 128, 362, 238), 5, 8),
    "cashier": ("classroom.gif", (30, 128, 124, 232), 5, 8),
    "aisle_woman": ("store-aisle-detection.gif", (328, 78, 432, 270), 2, 6),
    "worker": ("worker-zone-detection.gif", (228, 128, 352, 270), 1, 4),
}


def main(footage: Path) -> None:
    ASSETS.mkdir(exist_ok=True)
    for actor, (name, box, step, limit) in SPRITES.items():
        gif = Image.open(footage / name)
        for k, index in enumerate(range(0, min(gif.n_frames, step * limit), step)):
            gif.seek(index)
            gif.convert("RGB").crop(box).save(ASSETS / f"{actor}_{k:02d}.jpg", quality=92)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/footage"))
