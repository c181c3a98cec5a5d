"""Tamper: while the stream is up, a picture that is black, uniform (a covered lens), frozen (the
same picture for ``frozen_s``) or far from the counter's reference view (turned away) for
``hold_s`` is a tampered span. Looks at one keyframe every ``every_s`` seconds, decoded to a small
grey thumbnail (a few hundred microseconds a look), never at every frame.

The reference view is learned from the first ``learn`` looks of a recorder's run while none of the
other checks fires, or given (a thumbnail saved beside the store). Similarity is the correlation of
edge magnitudes (lighting changes keep the edges; a turned camera or a cover does not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

THUMB = (64, 36)  # width, height


class Tamper(StrEnum):
    BLACK = "black"
    UNIFORM = "uniform"
    FROZEN = "frozen"
    TURNED = "turned"

    @property
    def reason(self) -> str:
        return {Tamper.BLACK: "black picture", Tamper.UNIFORM: "uniform picture (lens covered?)",
                Tamper.FROZEN: "frozen picture",
                Tamper.TURNED: "far from the counter's reference view (camera turned or moved?)"}[self]


@dataclass(frozen=True)
class TamperOptions:
    every_s: float = 5.0
    hold_s: float = 30.0  # a condition lasting this long is tamper (a customer leaning in is not)
    frozen_s: float = 60.0
    black_luma: float = 24.0  # mean luma of a black picture (video black is 16)
    uniform_std: float = 4.0  # grey levels: a lens under tape or a hand
    frozen_diff: float = 0.5  # mean abs difference of thumbnails that are the same picture
    turned_similarity: float = 0.3  # edge correlation below this: little structure in common
    learn: int = 6  # looks (30 s at every_s 5) that make the reference view


def edges(thumb: np.ndarray) -> np.ndarray:
    g = thumb.astype(np.float32)
    gx = np.zeros_like(g)
    gy = np.zeros_like(g)
    gx[:, 1:-1] = g[:, 2:] - g[:, :-2]
    gy[1:-1, :] = g[2:, :] - g[:-2, :]
    return np.hypot(gx, gy)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two thumbnails' edge magnitudes, -1..1 (0 when either has no edges)."""
    ea, eb = edges(a).ravel(), edges(b).ravel()
    ea, eb = ea - ea.mean(), eb - eb.mean()
    norm = float(np.linalg.norm(ea) * np.linalg.norm(eb))
    return float(ea @ eb) / norm if norm > 1e-6 else 0.0


def condition(thumb: np.ndarray, previous: np.ndarray | None, reference: np.ndarray | None,
              options: TamperOptions) -> Tamper | None:
    """What is wrong with one look at the picture (frozen: the same as the look before)."""
    mean, std = float(thumb.mean()), float(thumb.std())
    if mean < options.black_luma and std < 2 * options.uniform_std:
        return Tamper.BLACK
    if std < options.uniform_std:
        return Tamper.UNIFORM
    if previous is not None and float(np.abs(thumb.astype(np.int16) - previous).mean()) < options.frozen_diff:
        return Tamper.FROZEN
    if reference is not None and similarity(thumb, reference) < options.turned_similarity:
        return Tamper.TURNED
    return None


@dataclass
class TamperWatch:
    """Per camera: feeds looks in, says when a tampered span starts and ends."""

    options: TamperOptions = field(default_factory=TamperOptions)
    reference: np.ndarray | None = None
    _learning: list = field(default_factory=list)
    _previous: np.ndarray | None = None
    _since: datetime | None = None  # when the current condition began
    _what: Tamper | None = None
    active: Tamper | None = None  # a span is open
    span_start: datetime | None = None
    last_good: datetime | None = None  # the last look at a normal picture

    def look(self, thumb: np.ndarray, at: datetime) -> tuple[str, Tamper, datetime] | None:
        """("start", what, since) when a span opens, ("end", what, at) when it closes, else None."""
        what = condition(thumb, self._previous, self.reference, self.options)
        self._previous = thumb
        if what is None:
            self.last_good = at
        if what is None and self.reference is None:
            self._learning.append(thumb)
            if len(self._learning) >= self.options.learn:
                self.reference = np.median(np.stack(self._learning), axis=0).astype(np.uint8)
                self._learning.clear()
        if what != self._what:
            self._what, self._since = what, at
        if self.active is None and what is not None:
            need = self.options.frozen_s if what == Tamper.FROZEN else self.options.hold_s
            if (at - self._since).total_seconds() >= need:
                self.active, self.span_start = what, self._since
                return "start", what, self._since
        elif self.active is not None and what is None:
            ended, self.active = self.active, None
            return "end", ended, at
        return None

    @property
    def current(self) -> Tamper | None:
        """The condition of the last look (lasting or not yet long enough to be a span)."""
        return self._what

    def reset(self) -> None:
        """A new connection: the frozen check starts over (the reference view is kept)."""
        self._previous, self._what, self._since = None, None, None
