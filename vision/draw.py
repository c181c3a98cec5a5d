"""Keyframes with boxes: what an inspector sees next to the settlement record."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from rxaudit.domain import Box, Observation

CUSTOMER = (40, 200, 40)
OTHER = (0, 150, 255)
FACE = (255, 120, 0)
ZONE = (255, 255, 0)
OBJECT_COLOURS = {"card": (255, 0, 255), "phone": (255, 200, 0), "drug": (0, 220, 255),
                  "non_covered": (0, 0, 255)}


def to_bgr(image_rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)


def put_text(img: np.ndarray, text: str, x: int, y: int, scale: float, colour: tuple[int, int, int]) -> None:
    """Text kept inside the frame: moved left from the right edge, shrunk (down to 0.3) and, if
    still too wide, cut with '..' so small frames never lose the end of a label or caption."""
    width = img.shape[1]
    size = lambda t, s: cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, s, 1)[0][0]  # noqa: E731
    while scale > 0.3 and size(text, scale) > width - 4:
        scale = round(scale - 0.05, 2)
    while len(text) > 3 and size(text, scale) > width - 4:
        text = text[:-3] + ".."
    x = max(0, min(x, width - size(text, scale) - 2))
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def labelled_boxes(obs: Observation) -> list[tuple[str, Box]]:
    boxes = []
    for i, person in enumerate(obs.persons):
        role = "customer" if i in obs.customers else "other"
        boxes.append((f"{role} #{person.track_id} {person.score:.2f}", person.box))
    boxes += [(f"face #{face.track_id}", face.box) for face in obs.faces]
    boxes += [(f"{o.cls} {o.score:.2f}", o.box) for o in obs.objects]
    return boxes


def draw_keyframe(image_rgb: np.ndarray, obs: Observation | None,
                  zone: Sequence[tuple[float, float]], caption: str) -> np.ndarray:
    """A BGR image with the customer zone, persons (customers green), wrists, faces and a caption."""
    img = to_bgr(image_rgb)
    h, w = img.shape[:2]
    poly = np.array([[x * w, y * h] for x, y in zone], np.int32)
    cv2.polylines(img, [poly], True, ZONE, 1)
    if obs is not None:
        for i, person in enumerate(obs.persons):
            color = CUSTOMER if i in obs.customers else OTHER
            b = person.box
            cv2.rectangle(img, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), color, 2)
            label = f"{'customer' if i in obs.customers else 'other'} #{person.track_id}"
            put_text(img, label, int(b.x1) + 2, int(b.y1) + 14, 0.45, color)
            for x, y in person.wrists():
                cv2.circle(img, (int(x), int(y)), 4, color, -1)
        for face in obs.faces:
            b = face.box
            cv2.rectangle(img, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), FACE, 1)
        for o in obs.objects:
            b, colour = o.box, OBJECT_COLOURS.get(o.cls, (200, 200, 200))
            cv2.rectangle(img, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), colour, 2)
            put_text(img, f"{o.cls} {o.score:.2f}", int(b.x1), max(10, int(b.y1) - 3), 0.4, colour)
    cv2.rectangle(img, (0, h - 22), (w, h), (0, 0, 0), -1)
    put_text(img, caption, 6, h - 7, 0.45, (255, 255, 255))
    return img


def save_jpeg(path: Path, image_bgr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise OSError(f"cannot encode keyframe {path}")
    path.write_bytes(data.tobytes())
