"""Keyframes with boxes: what an inspector sees next to the settlement record.

Labels burned into the image are Chinese when the CJK font (fonts-wqy-microhei, :data:`CJK_FONT`) is
installed, drawn with Pillow; without it they are neutral (track numbers, scores, the settlement and
time: no English words), drawn with OpenCV's own font, and the colours carry the roles (the review
page's legend names them). The labels stored with the evidence (:func:`labelled_boxes`) are machine
labels and stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rxaudit.domain import Box, Observation

CUSTOMER = (40, 200, 40)
OTHER = (0, 150, 255)
FACE = (255, 120, 0)
ZONE = (255, 255, 0)
OBJECT_COLOURS = {"card": (255, 0, 255), "phone": (255, 200, 0), "drug": (0, 220, 255),
                  "non_covered": (0, 0, 255)}
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
ROLE_ZH = {"customer": "顾客", "other": "其他人员"}
OBJECT_ZH = {"card": "卡", "phone": "手机", "drug": "药品", "non_covered": "非医保商品", "unclear": "不确定"}


@lru_cache(maxsize=16)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return None


def cjk_font(size: int = 14) -> ImageFont.FreeTypeFont | None:
    """The CJK font at ``size`` px, or None when it is not installed (labels are then neutral)."""
    return _font(str(CJK_FONT), size) if CJK_FONT.is_file() else None


def to_bgr(image_rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)


def put_text(img: np.ndarray, text: str, x: int, y: int, scale: float, colour: tuple[int, int, int]) -> None:
    """ASCII text (OpenCV's font) kept inside the frame: moved left from the right edge, shrunk
    (down to 0.3) and, if still too wide, cut with '..' so small frames never lose the end of a label
    or caption."""
    width = img.shape[1]
    size = lambda t, s: cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, s, 1)[0][0]  # noqa: E731
    while scale > 0.3 and size(text, scale) > width - 4:
        scale = round(scale - 0.05, 2)
    while len(text) > 3 and size(text, scale) > width - 4:
        text = text[:-3] + ".."
    x = max(0, min(x, width - size(text, scale) - 2))
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def _put_cjk(draw: ImageDraw.ImageDraw, width: int, text: str, x: int, y: int, px: int,
             colour: tuple[int, int, int]) -> None:
    """Like :func:`put_text` with the CJK font (``y`` is the baseline); ``colour`` is BGR."""
    font = cjk_font(px)
    while px > 9 and font is not None and font.getlength(text) > width - 4:
        px -= 1
        font = cjk_font(px)
    if font is None:
        return
    while len(text) > 2 and font.getlength(text) > width - 4:
        text = text[:-2] + "…"
    x = max(0, min(x, int(width - font.getlength(text) - 2)))
    draw.text((x, y), text, font=font, fill=(colour[2], colour[1], colour[0]), anchor="ls")


def labelled_boxes(obs: Observation) -> list[tuple[str, Box]]:
    boxes = []
    for i, person in enumerate(obs.persons):
        role = "customer" if i in obs.customers else "other"
        boxes.append((f"{role} #{person.track_id} {person.score:.2f}", person.box))
    boxes += [(f"face #{face.track_id}", face.box) for face in obs.faces]
    boxes += [(f"{o.cls} {o.score:.2f}", o.box) for o in obs.objects]
    return boxes


def keyframe_caption(settlement_id: str, pharmacy_id: str, counter_id: str, t: datetime) -> str:
    """The caption under a keyframe: Chinese with the CJK font, else neutral (ids and camera time)."""
    if cjk_font() is not None:
        return f"结算 {settlement_id} · {pharmacy_id}/{counter_id} · 画面时间 {t:%H:%M:%S}"
    return f"{settlement_id} {pharmacy_id}/{counter_id} {t:%H:%M:%S}"


def _labels(obs: Observation | None, chinese: bool) -> list[tuple[str, int, int, float, tuple[int, int, int]]]:
    """(text, x, baseline y, size, BGR colour) of each label to burn in."""
    out = []
    if obs is None:
        return out
    for i, person in enumerate(obs.persons):
        role = "customer" if i in obs.customers else "other"
        text = f"{ROLE_ZH[role]} #{person.track_id}" if chinese else f"#{person.track_id}"
        out.append((text, int(person.box.x1) + 2, int(person.box.y1) + 14, 0.45,
                    CUSTOMER if role == "customer" else OTHER))
    for o in obs.objects:
        name = OBJECT_ZH.get(o.cls, "") if chinese else ""
        out.append((f"{name} {o.score:.2f}".strip(), int(o.box.x1), max(10, int(o.box.y1) - 3), 0.4,
                    OBJECT_COLOURS.get(o.cls, (200, 200, 200))))
    return out


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
            for x, y in person.wrists():
                cv2.circle(img, (int(x), int(y)), 4, color, -1)
        for face in obs.faces:
            b = face.box
            cv2.rectangle(img, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), FACE, 1)
        for o in obs.objects:
            b, colour = o.box, OBJECT_COLOURS.get(o.cls, (200, 200, 200))
            cv2.rectangle(img, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), colour, 2)
    cv2.rectangle(img, (0, h - 22), (w, h), (0, 0, 0), -1)
    chinese = cjk_font() is not None
    labels = _labels(obs, chinese)
    if not chinese:
        for text, x, y, scale, colour in labels:
            put_text(img, text, x, y, scale, colour)
        put_text(img, caption.encode("ascii", "replace").decode(), 6, h - 7, 0.45, (255, 255, 255))
        return img
    canvas = Image.fromarray(img[:, :, ::-1])  # PIL draws in RGB
    draw = ImageDraw.Draw(canvas)
    for text, x, y, scale, colour in labels:
        _put_cjk(draw, w, text, x, y, int(round(scale * 32)), colour)
    _put_cjk(draw, w, caption, 6, h - 6, 15, (255, 255, 255))
    return np.ascontiguousarray(np.asarray(canvas)[:, :, ::-1])


def save_jpeg(path: Path, image_bgr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise OSError(f"cannot encode keyframe {path}")
    path.write_bytes(data.tobytes())
