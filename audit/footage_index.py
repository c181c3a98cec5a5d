"""The footage summaries phase 2 reads, kept small at city scale: the stored ones as they come, and
those of counters the store does not have made when asked for (every settlement of such a counter is
summarised alike, so one summary is moved to each). Also the camera configuration with its lookups
cached (pydantic models are slow to ask a million times)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import PrivateAttr

from ingest.cameras import CamerasConfig, CounterConfig
from reconcile.context import CounterFootage, CounterView, RuleConfig, SettlementFootage
from rxaudit.domain import Settlement


class CachedCameras(CamerasConfig):
    """The same configuration, each counter's and pharmacy's settings worked out once rather than at
    every swipe (a counter missing from cameras.yaml otherwise builds and validates its defaults
    every time it is asked)."""

    _counters: dict[tuple[str, str], CounterConfig] = PrivateAttr(default_factory=dict)
    _hours: dict[str, Any] = PrivateAttr(default_factory=dict)

    # (the caches are read through __pydantic_private__: pydantic's attribute hook is slow)
    def counter(self, pharmacy_id: str, counter_id: str) -> CounterConfig:
        cache = self.__pydantic_private__["_counters"]
        found = cache.get((pharmacy_id, counter_id))
        if found is None:
            found = cache[(pharmacy_id, counter_id)] = super().counter(pharmacy_id, counter_id)
        return found

    def business_hours(self, pharmacy_id: str):
        cache = self.__pydantic_private__["_hours"]
        found = cache.get(pharmacy_id)
        if found is None:
            found = cache[pharmacy_id] = super().business_hours(pharmacy_id)
        return found


def cached_cameras(cameras: CamerasConfig) -> CamerasConfig:
    if isinstance(cameras, CachedCameras):
        return cameras
    return CachedCameras.model_construct(**{name: getattr(cameras, name) for name in CamerasConfig.model_fields})


def _copied(value: Any) -> Any:
    """A copy of a summary's JSON-like ``seen`` (dicts and lists copied all the way down; scalars,
    most of it, are shared without a call each)."""
    if isinstance(value, dict):
        return {k: (_copied(v) if isinstance(v, _CONTAINERS) else v) for k, v in value.items()}
    if isinstance(value, list):
        return [(_copied(v) if isinstance(v, _CONTAINERS) else v) for v in value]
    return value


_CONTAINERS = (dict, list)


def _moved(first: SettlementFootage, settlement_id: str, t: Any) -> SettlementFootage:
    return SettlementFootage(settlement_id, t, first.unverifiable, first.visit,
                             {**_copied(first.seen), "camera_time": t.isoformat()}, first.keyframe)


def _same(a: SettlementFootage, b: SettlementFootage) -> bool:
    return (a.settlement_id, a.camera_time, a.unverifiable, a.visit, a.seen, a.keyframe) == (
        b.settlement_id, b.camera_time, b.unverifiable, b.visit, b.seen, b.keyframe)


class UnknownCounter:
    """Summaries at a counter the store does not have. Nothing was decoded there, so two summaries
    differ only in their settlement and camera time: once a second one made in full (at another
    time) equals the first one moved to its time, the rest are made that way (a copy of the first
    with the camera time replaced, several times faster: a city's month is a million of them).
    When the two differ, every summary is made in full."""

    def __init__(self, view: CounterView) -> None:
        self.view = view
        self.first: SettlementFootage | None = None
        self.trusted: bool | None = None  # None: not decided yet

    def summarise(self, s: Settlement) -> SettlementFootage:
        if self.trusted and self.first is not None:
            t = self.view.cameras.camera_time(s.pharmacy_id, s.counter_id, s.settled_at)
            return _moved(self.first, s.settlement_id, t)
        made = self.view.summarise(s)
        if self.trusted is None:
            if self.first is None:
                self.first = _moved(made, made.settlement_id, made.camera_time)  # its own copy
            elif made.camera_time != self.first.camera_time:
                self.trusted = _same(_moved(self.first, made.settlement_id, made.camera_time), made)
        return made


class FootageIndex(Mapping[str, SettlementFootage]):
    """Every settlement's footage summary: kept for counters with footage, made on demand (and not
    kept) for counters the store does not have, which are unverifiable for a reason that needs no
    video. The last one made is remembered: the rules ask for one settlement several times in a row."""

    def __init__(self, config: RuleConfig, cameras: CamerasConfig) -> None:
        self._stored: dict[str, SettlementFootage] = {}
        self._unknown: dict[str, Settlement] = {}
        self._views: dict[tuple[str, str], UnknownCounter] = {}
        self._config, self._cameras = config, cameras
        self._last: tuple[str | None, SettlementFootage | None] = (None, None)

    def add(self, summaries: Iterable[SettlementFootage]) -> None:
        self._stored.update((f.settlement_id, f) for f in summaries)

    def verified_ids(self) -> set[str]:
        """Settlements whose footage was good enough to judge (never one of an unknown counter)."""
        return {sid for sid, f in self._stored.items() if f.unverifiable is None}

    def is_unknown(self, settlement_id: str) -> bool:
        """A settlement of a counter the store does not have (nothing was decoded for it)."""
        return settlement_id in self._unknown and settlement_id not in self._stored

    def add_unknown(self, key: tuple[str, str], settlements: Iterable[Settlement]) -> None:
        self._views[key] = UnknownCounter(CounterView(self._config, self._cameras, CounterFootage(known=False)))
        self._unknown.update((s.settlement_id, s) for s in settlements)

    def get(self, settlement_id: str, default: Any = None) -> Any:
        found = self._stored.get(settlement_id)
        if found is not None:
            return found
        if self._last[0] == settlement_id:
            return self._last[1]
        s = self._unknown.get(settlement_id)
        if s is None:
            return default
        made = self._views[s.counter_key].summarise(s)
        self._last = (settlement_id, made)
        return made

    def __getitem__(self, settlement_id: str) -> SettlementFootage:
        found = self.get(settlement_id)
        if found is None:
            raise KeyError(settlement_id)
        return found

    def __iter__(self) -> Iterator[str]:
        yield from self._stored
        yield from (sid for sid in self._unknown if sid not in self._stored)

    def __len__(self) -> int:
        return len(self._stored) + sum(1 for sid in self._unknown if sid not in self._stored)
