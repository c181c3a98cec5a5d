"""Corrected boxes on a verdict: a class the counter detector knows (the dataset export's), finite
numbers, x1 < x2 and y1 < y2, each side at least 1 px, inside the flag's frame, at most
100, exactly ``[{"cls", "box": [4 numbers]}]``; anything else is a 422 that names the field and
stores nothing (never a 500, never ``null`` coordinates that break ``rxaudit dataset export``).
A JSON body nested thousands deep is refused too, never a RecursionError."""

from __future__ import annotations

import pytest
from PIL import Image
from sqlalchemy import select

from audit.counter_audit import keyframe_name
from database.engine import make_engine, session_factory, transaction
from database.models import Verdict
from tests.api.conftest import csrf_of

W, H = "{W}", "{H}"  # the flag's frame size (a stored float), filled in per test


def one(box: str, cls: str = '"non_covered"') -> str:
    return f'[{{"cls": {cls}, "box": {box}}}]'


BAD = {
    "infinity": (one("[0, 0, Infinity, Infinity]"), "boxes"),
    "nan": (one("[0, 0, NaN, 5]"), "boxes"),
    "overflowing float": (one("[0, 0, 1e999, 1e999]"), "boxes[0].box"),
    "minus infinity": (one("[-1e999, 0, 5, 5]"), "boxes[0].box"),
    "a 5000-digit integer": (one(f"[0, 0, {'9' * 5000}, 5]"), "boxes"),
    "beyond the frame's width": (one("[0, 0, {W1}, 5]"), "boxes[0].box"),
    "beyond the frame's height": (one("[0, 0, 5, {H1}]"), "boxes[0].box"),
    "negative": (one("[-1, 0, 5, 5]"), "boxes[0].box"),
    "x1 = x2": (one("[5, 0, 5, 5]"), "boxes[0].box"),
    "y1 > y2": (one("[0, 9, 5, 5]"), "boxes[0].box"),
    "booleans": (one("[0, 0, true, true]"), "boxes[0].box"),
    "strings": (one('["0", "0", "5", "5"]'), "boxes[0].box"),
    "three numbers": (one("[0, 0, 5]"), "boxes[0].box"),
    "five numbers": (one("[0, 0, 5, 5, 5]"), "boxes[0].box"),
    "a box of boxes": (one("[[0, 0, 5, 5]]"), "boxes"),
    "an extra key": ('[{"cls": "non_covered", "box": [0, 0, 5, 5], "score": 1}]', "boxes[0]"),
    "no class": ('[{"box": [0, 0, 5, 5]}]', "boxes[0]"),
    "a class that is no name": (one("[0, 0, 5, 5]", '"no such; class"'), "boxes[0].cls"),
    "a class of 33 letters": (one("[0, 0, 5, 5]", '"' + "c" * 33 + '"'), "boxes[0].cls"),
    "a class the detector has not": (one("[1, 1, 50, 50]", '"pizza"'), "boxes[0].cls"),
    "a class in other scripts": (one("[0, 0, 1, 1]", '"ñ中"'), "boxes[0].cls"),
    "a class in capitals": (one("[0, 0, 5, 5]", '"DRUG"'), "boxes[0].cls"),
    "a number for a class": (one("[0, 0, 5, 5]", "3"), "boxes[0].cls"),
    "sub-pixel": (one("[0, 0, 1e-320, 1e-320]"), "boxes[0].box"),
    "half a pixel wide": (one("[10, 10, 10.5, 20]"), "boxes[0].box"),
    "half a pixel high": (one("[10, 10, 20, 10.5]"), "boxes[0].box"),
    "an object": ('{"cls": "non_covered", "box": [0, 0, 5, 5]}', "boxes"),
    "101 boxes": ("[" + ", ".join(['{"cls": "a", "box": [0, 0, 5, 5]}'] * 101) + "]", "boxes"),
    "nested 8000 deep": ("[" * 8000 + "]" * 8000, "boxes"),
    "nested 4 deep": ("[[[[]]]]", "boxes"),
    "not JSON": ('[{"cls": ', "boxes"),
}

GOOD = {
    "none at all": ("[]", []),
    "the whole frame": (one("[0, 0, {W}, {H}]"), [{"cls": "non_covered", "box": [0.0, 0.0, W, H]}]),
    "fractions": (one("[1.5, 2.5, 30.25, 40]", '"drug"'), [{"cls": "drug", "box": [1.5, 2.5, 30.25, 40.0]}]),
    "100 boxes": ("[" + ", ".join(['{"cls": "card", "box": [0, 0, 5, 5]}'] * 100) + "]",
                  [{"cls": "card", "box": [0.0, 0.0, 5.0, 5.0]}] * 100),
    "one pixel": (one("[10, 10, 11, 11]", '"phone"'), [{"cls": "phone", "box": [10.0, 10.0, 11.0, 11.0]}]),
}


@pytest.fixture
def frame(city) -> tuple[int, int]:
    with Image.open(city.root / "evidence" / keyframe_name("A1")) as image:
        return image.size


def fill(text: str, frame: tuple[int, int]) -> str:
    width, height = frame
    return (text.replace("{W1}", str(width + 1)).replace("{H1}", str(height + 1))
            .replace("{W}", str(width)).replace("{H}", str(height)))


def resolve(stored: list, frame: tuple[int, int]) -> list:
    sizes = {W: float(frame[0]), H: float(frame[1])}
    return [{"cls": b["cls"], "box": [sizes.get(v, v) for v in b["box"]]} for b in stored]


def stored_boxes(city) -> list:
    engine = make_engine(city.settings.db_url)
    with transaction(session_factory(engine)) as session:
        boxes = [v.boxes for v in session.scalars(select(Verdict).order_by(Verdict.id))]
    engine.dispose()
    return boxes


def post_boxes(client, city, text: str):
    return client.post(f"/flags/{city.flags['A1']}/verdict", follow_redirects=False,
                       data={"action": "dismiss", "reason": "wrong_detection", "csrf": csrf_of(client), "boxes": text})


@pytest.mark.parametrize(("text", "field"), BAD.values(), ids=BAD.keys())
def test_bad_boxes_are_a_422_naming_the_field(client_for, city, frame, text, field):
    client = client_for("insp_a")
    response = post_boxes(client, city, fill(text, frame))
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert response.json()["detail"].startswith(field)
    assert stored_boxes(city) == []


@pytest.mark.parametrize(("text", "stored"), GOOD.values(), ids=GOOD.keys())
def test_good_boxes_are_stored_as_floats(client_for, city, frame, text, stored):
    client = client_for("insp_a")
    assert post_boxes(client, city, fill(text, frame)).status_code == 303
    assert stored_boxes(city) == [resolve(stored, frame)]


def test_a_class_name_is_checked_not_parsed(client_for, city):
    """Brackets inside a string do not count as nesting: the class name is refused for what it is."""
    client = client_for("insp_a")
    response = post_boxes(client, city, one("[0, 0, 5, 5]", '"' + "[" * 20 + '"'))
    assert response.status_code == 422 and response.json()["detail"].startswith("boxes[0].cls")


def test_boxes_are_bounded_by_a_default_frame_when_the_flags_frame_is_gone(client_for, city, frame):
    for path in (city.root / "evidence").rglob("*.jpg"):
        path.unlink()
    client = client_for("insp_a")
    assert post_boxes(client, city, one(f"[0, 0, {frame[0] + 1}, 5]")).status_code == 303  # frame unknown
    assert post_boxes(client, city, one("[0, 0, 16385, 5]")).status_code == 422


def test_a_deeply_nested_json_body_is_refused_not_a_server_error(client_for):
    client = client_for("key_all")
    client.headers["Content-Type"] = "application/json"
    for depth in (8_000, 100_000):
        response = client.post("/api/v1/stream-tokens", content="[" * depth + "]" * depth)
        assert response.status_code in (400, 422), response.status_code
