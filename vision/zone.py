"""Counter zones: relative polygons from cameras.yaml, tested against pixel points."""

from __future__ import annotations

from collections.abc import Sequence

from rxaudit.domain import Person


def point_in_polygon(x: float, y: float, polygon: Sequence[tuple[float, float]]) -> bool:
    """Even-odd rule; points on an edge count as inside half the time, which is fine here."""
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


def in_zone(person: Person, zone: Sequence[tuple[float, float]], size: tuple[int, int]) -> bool:
    """A person stands in the zone when the centre of their box lies inside it."""
    width, height = size
    cx, cy = person.box.center
    return point_in_polygon(cx / width, cy / height, zone)


def wrists_in_zone(person: Person, zone: Sequence[tuple[float, float]], size: tuple[int, int]) -> int:
    width, height = size
    return sum(point_in_polygon(x / width, y / height, zone) for x, y in person.wrists())
