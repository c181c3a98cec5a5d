"""The one place that words why an input row was rejected.

A rejected row's reason goes to stderr, ``flags.json``, the ``rejected_rows`` table and logs. A row
with a missing column shifts its card id into another column, so a reason must never quote a raw
field value: it names the column and says what is wrong, and at most shows the value's *shape*
(:func:`mask`: digits become ``9``, letters ``x``), which tells a user what the field looked like
without the digits of a card id.
"""

from __future__ import annotations

MASK_MAX = 24


def mask(value: str) -> str:
    """The shape of ``value``: ``6222 0212`` -> ``9999 9999``, ``not-a-time`` -> ``xxx-x-xxxx``."""
    shape = "".join("9" if c.isdigit() else "x" if c.isalpha() else c if c.isprintable() else "?"
                    for c in value[:MASK_MAX])
    return shape + ("…" if len(value) > MASK_MAX else "")


def row_reason(column: str | None, problem: str, value: str | None = None) -> str:
    """``column 'shape' problem``; the value (if given) only ever appears masked."""
    parts = [column] if column else []
    if value is not None:
        parts.append(repr(mask(value)))
    parts.append(problem)
    return " ".join(parts)


class RowError(ValueError):
    """A row cannot be used. ``str()`` is its reason, formatted by :func:`row_reason`."""

    def __init__(self, column: str | None, problem: str, value: str | None = None) -> None:
        super().__init__(row_reason(column, problem, value))
        self.column = column


def reason_of(exc: Exception) -> str:
    """Why a row was rejected: a RowError's own words; anything else by its type only (its
    message may quote a value)."""
    if isinstance(exc, RowError):
        return str(exc)
    return row_reason(None, f"row cannot be used ({type(exc).__name__})")
