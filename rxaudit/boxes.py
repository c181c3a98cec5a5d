"""Corrected detector boxes: a reviewer's JSON, ``[{"cls": "non_covered", "box": [x1, y1, x2, y2]}]`` in
frame pixels, checked strictly before it is stored (finite numbers, at least ``BOX_MIN_PX`` wide and
high, inside the frame, a bounded count, exactly this shape, a class of the counter detector that
``rxaudit dataset export`` writes: ``KNOWN_CLASSES``), and the same check on what is read back, so that one bad
stored correction is skipped by ``rxaudit dataset export`` instead of breaking it for everyone.

Nesting is measured on the text before it is parsed: a body nested thousands deep is refused as such,
never left to the parser's recursion.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rxaudit.domain import COUNTER_CLASSES as KNOWN_CLASSES  # the counter detector's, as the dataset export writes
from rxaudit.errors import InputError

MAX_BOXES = 100
MAX_DEPTH = 3  # a list of objects holding a list of numbers
FRAME_MAX = 16_384  # pixels: the largest frame side, when the frame itself is not at hand
KEYS = {"cls", "box"}
BOX_MIN_PX = 1.0  # a box narrower or lower than a pixel marks nothing a detector can learn
BOX_HELP = (f"[x1, y1, x2, y2]: finite numbers with x1 < x2 and y1 < y2, each side at least {BOX_MIN_PX:g} px, "
            "in pixels inside the frame")
CLASS_HELP = ".cls: one of " + ", ".join(KNOWN_CLASSES)


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[`` / ``{`` in JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _number_in(value: Any, low: float, high: float) -> bool:
    """A JSON number (not a boolean, not NaN or infinite) with low <= value <= high."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not (isinstance(value, float) and not math.isfinite(value)) and low <= value <= high


def box_problem(box: Any, frame: tuple[int, int] | None) -> str | None:
    """Why ``box`` is not a box inside a ``frame`` of (width, height) pixels; None when it is."""
    width, height = frame or (FRAME_MAX, FRAME_MAX)
    if not isinstance(box, list) or len(box) != 4:
        return BOX_HELP
    x1, y1, x2, y2 = box
    limits = ((x1, width), (y1, height), (x2, width), (y2, height))
    if not all(_number_in(v, 0, side) for v, side in limits) or not (x2 - x1 >= BOX_MIN_PX
                                                                      and y2 - y1 >= BOX_MIN_PX):
        return BOX_HELP + (f" ({width} x {height})" if frame else "")
    return None


def item_problem(item: Any, frame: tuple[int, int] | None) -> str | None:
    """Why one ``{"cls": ..., "box": [...]}`` is refused (the field it names first); None when it is fine."""
    if not isinstance(item, dict) or set(item) != KEYS:
        return 'an object with exactly "cls" and "box"'
    if not isinstance(item["cls"], str) or item["cls"] not in KNOWN_CLASSES:
        return CLASS_HELP
    problem = box_problem(item["box"], frame)
    return None if problem is None else f".box: {problem}"


def check_boxes(data: Any, frame: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """``data`` (parsed JSON or a stored value) as clean boxes, or ``InputError`` naming the first bad one."""
    if not isinstance(data, list) or len(data) > MAX_BOXES:
        raise InputError(f"boxes: expected a list of at most {MAX_BOXES} boxes")
    for k, item in enumerate(data):
        problem = item_problem(item, frame)
        if problem is not None:
            raise InputError(f"boxes[{k}]{problem}")
    return [{"cls": item["cls"], "box": [float(v) for v in item["box"]]} for item in data]


def parse_boxes(text: str, frame: tuple[int, int] | None = None) -> list[dict[str, Any]] | None:
    """A reviewer's corrected boxes. Empty text: no correction. ``[]``: the frame shows none of the classes."""
    if not text.strip():
        return None
    if nesting_depth(text) > MAX_DEPTH:
        raise InputError(f"boxes: nested deeper than a list of {{\"cls\", \"box\"}} objects ({MAX_DEPTH} levels)")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"boxes: not JSON ({exc.msg} at character {exc.pos})") from exc
    except ValueError as exc:  # NaN / Infinity, an integer of thousands of digits
        raise InputError(f"boxes: not JSON ({exc})") from exc
    return check_boxes(data, frame)
