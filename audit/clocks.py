"""``rxaudit clocks``: camera clock health per counter and day, from the audit database (the swipe
profiles every audit stores in ``checks.seen``) or by re-scanning the footage +-``clock_max_offset_s``
around each swipe; the on-screen clock as an independent check; confirming an offset into
``cameras.yaml``. A diagnostic: nothing here changes the offset an audit uses, except ``confirm``,
which a person runs.
"""

from __future__ import annotations

import io
import math
import statistics
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from ingest.cameras import MAX_CLOCK_OFFSET_S, CamerasConfig, load_cameras
from ingest.csv_reader import AUTO, read_text
from ingest.fields import MAX_LENGTH
from ingest.video_store import VideoStore, candidates
from reconcile.clock_health import ClockHealth, ClockOptions, assess, local_day
from rxaudit.domain import Settlement
from rxaudit.errors import ConfigError
from audit.file_rewrite import real_target, rewrite
from rxaudit.settings import Settings, format_validation_error

Key = tuple[str, str, date]
UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # control, format, surrogate, line/paragraph breaks
SCAN_CHUNK_S = 300.0  # swipes re-scanned together: bounds the frames one decode span holds


@dataclass
class ClockReport:
    health: dict[Key, ClockHealth]
    osd: dict[Key, list[Any]] = field(default_factory=dict)  # OsdCheck per segment
    osd_problems: dict[Key, str] = field(default_factory=dict)
    source: str = "database"

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for key, h in self.health.items():
            row = h.to_json()
            row["osd"] = osd_summary(self.osd.get(key), self.osd_problems.get(key))
            out.append(row)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "counters": self.rows()}


def osd_summary(checks: list[Any] | None, problem: str | None) -> dict[str, Any] | None:
    if problem is not None:
        return {"problem": problem, "segments": []}
    if not checks:
        return None
    diffs = [c.difference_s for c in checks if c.difference_s is not None]
    return {"osd_minus_timeline_s": round(statistics.median(diffs), 1) if diffs else None,
            "segments_checked": len(checks), "segments_disagreeing": sum(c.agrees is False for c in checks),
            "segments_unreadable": sum(c.agrees is None for c in checks),
            "segments": [c.to_json() for c in checks]}


def select_days(health: dict[Key, ClockHealth], *, day: date | None, pharmacy: str | None,
            counter: str | None) -> dict[Key, ClockHealth]:
    return {k: h for k, h in health.items() if (day is None or k[2] == day)
            and (pharmacy is None or k[0] == pharmacy) and (counter is None or k[1] == counter)}


def from_database(db_url: str, *, cameras: CamerasConfig | None, options: ClockOptions,
                  day: date | None = None, pharmacy: str | None = None,
                  counter: str | None = None) -> dict[Key, ClockHealth]:
    """Clock health from the profiles the audits stored (the latest check of each settlement)."""
    from sqlalchemy import select

    from database.engine import make_engine, migrate, session_factory, transaction
    from database.models import CheckRow, SettlementRow

    engine = make_engine(db_url)
    migrate(engine)
    settlements, seen = [], {}
    with transaction(session_factory(engine)) as session:
        query = select(SettlementRow, CheckRow.seen).join(
            CheckRow, CheckRow.settlement_id == SettlementRow.settlement_id)
        if pharmacy is not None:
            query = query.where(SettlementRow.pharmacy_id == pharmacy)
        if counter is not None:
            query = query.where(SettlementRow.counter_id == counter)
        for row, check_seen in session.execute(query):
            settlements.append(Settlement(row.settlement_id, row.pharmacy_id, row.counter_id, row.settled_at,
                                          row.card_hash, row.amount))
            seen[row.settlement_id] = check_seen or {}
    engine.dispose()
    return select_days(assess(settlements, seen, cameras, options), day=day, pharmacy=pharmacy, counter=counter)


def _chunks(settlements: Sequence[Settlement]) -> list[list[Settlement]]:
    out: list[list[Settlement]] = []
    for s in sorted(settlements, key=lambda s: s.settled_at):
        if out and (s.settled_at - out[-1][0].settled_at).total_seconds() <= SCAN_CHUNK_S:
            out[-1].append(s)
        else:
            out.append([s])
    return out


def scan_settings(settings: Settings, fps: float) -> Settings:
    """The audit's settings with windows wide enough for every offset searched."""
    reach = settings.clock_max_offset_s + settings.clock_tolerance_s + 3.0
    return settings.model_copy(update={"window_before_s": reach, "window_after_s": reach,
                                       "sample_fps": fps, "keyframes_only": True, "detect_objects": False})


def rescan(settings: Settings, settlements: Sequence[Settlement], cameras: CamerasConfig,
           store: VideoStore, *, fps: float = 1.0, models=None) -> dict[str, dict[str, Any]]:
    """Phase 1 again with windows of +-clock_max_offset_s (persons only, no faces or goods):
    each settlement's ``seen`` with its clock profile. Nothing is written to the database or the
    evidence folder."""
    from reconcile.context import CounterView
    from audit.counter_audit import CounterAuditor, Models, load_models
    from audit.pipeline import group_by_counter

    wide = scan_settings(settings, fps)
    if models is None:
        models = load_models(wide)
    persons_only = Models(persons=models.persons, faces=None, objects=None)
    seen: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="rxaudit-clocks-") as scratch:
        auditor = CounterAuditor(wide, cameras, store, persons_only, Path(scratch))
        for key, group in group_by_counter(settlements).items():
            for chunk in _chunks(group):
                footage, _ = auditor.footage(key, chunk)
                view = CounterView(auditor.config, cameras, footage)
                for s in chunk:
                    seen[s.settlement_id] = view.summarise(s).seen
    return seen


def osd_checks(store: VideoStore, cameras: CamerasConfig, settlements: Sequence[Settlement],
               keys: Sequence[Key], *, per_counter_day: int = 3) -> tuple[dict[Key, list[Any]], dict[Key, str]]:
    """Read the on-screen clock on a few segments holding each counter-day's swipes (counters with
    an ``osd_crop`` only)."""
    from vision.osd_clock import check_segment, tesseract_path

    wanted = {k for k in keys if cameras.counter(k[0], k[1]).osd_crop is not None}
    checks: dict[Key, list[Any]] = {}
    problems: dict[Key, str] = {}
    if not wanted:
        return checks, problems
    if tesseract_path() is None:
        return checks, {k: "tesseract is not installed (apt-get install tesseract-ocr)" for k in wanted}
    swipes: dict[Key, list[Settlement]] = defaultdict(list)
    for s in settlements:
        key = (s.pharmacy_id, s.counter_id, local_day(s, cameras.business_hours(s.pharmacy_id)[2]))
        if key in wanted:
            swipes[key].append(s)
    for key in sorted(wanted):
        pharmacy_id, counter_id, _ = key
        if not store.has_counter(pharmacy_id, counter_id):
            problems[key] = "no footage for this counter"
            continue
        segments = store.list_segments(pharmacy_id, counter_id)
        touched: list[Any] = []
        for s in sorted(swipes.get(key, []), key=lambda s: s.settled_at):
            t = cameras.camera_time(pharmacy_id, counter_id, s.settled_at)
            for seg in candidates(segments, t, t):
                if seg not in touched:
                    touched.append(seg)
        if not touched:
            problems[key] = "no segment holds this day's swipes"
            continue
        step = max(1, math.ceil(len(touched) / per_counter_day))
        crop = cameras.counter(pharmacy_id, counter_id).osd_crop
        checks[key] = [check_segment(store, seg, crop) for seg in touched[::step][:per_counter_day]]
    return checks, problems


@dataclass(frozen=True)
class Confirmed:
    previous_s: float  # the counter's offset before
    backup: Path | None  # the previous file's bytes (None: there was no file)


def check_id(value: str, option: str) -> str:
    """A pharmacy or counter id as a log names it: not empty, no surrounding blanks, no control
    characters (a newline included), no longer than the stored column."""
    limit = MAX_LENGTH.get(option.lstrip("-") + "_id", 64)
    if not value.strip():
        raise ConfigError(f"{option} must not be empty")
    if any(unicodedata.category(ch) in UNPRINTABLE for ch in value):
        raise ConfigError(f"{option} must not hold control characters or line breaks")
    if value != value.strip():
        raise ConfigError(f"{option} must not start or end with blanks")
    if len(value) > limit:
        raise ConfigError(f"{option} is longer than {limit} characters")
    return value


def check_offset(value: float, option: str) -> float:
    if not (math.isfinite(value) and abs(value) <= MAX_CLOCK_OFFSET_S):
        raise ConfigError(f"{option} must be a finite number of seconds within +-{MAX_CLOCK_OFFSET_S:g} "
                          "(a day)")
    return value


def confirm_offset(path: Path, *, pharmacy: str, counter: str, offset_s: float, add: bool = False) -> Confirmed:
    """Write ``clock_offset_s`` for one counter into ``cameras.yaml`` (the rest of the file kept,
    comments, order and quoting included), validated by the strict schema before anything is
    written. A counter the file has no entry for is refused unless ``add`` (a mistyped id would
    otherwise get the offset while the real counter keeps the wrong one). A link is written through
    (its target keeps its mode); the previous bytes are kept as ``<target>.bak`` (``audit.file_rewrite``)."""
    check_id(pharmacy, "--pharmacy")
    check_id(counter, "--counter")
    check_offset(offset_s, "--offset")
    path = Path(path)
    real = real_target(path)
    before = load_cameras(real) if real.exists() else CamerasConfig()  # refuses a broken file
    text = read_text(real, AUTO) if real.exists() else ""
    data = _round_trip().load(text) if text.strip() else None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: camera configuration must be a mapping")
    listed = ((data.get("pharmacies") or {}).get(pharmacy) or {}).get("counters") or {}
    if counter not in listed and not add:
        known = sorted(str(c) for c in listed)[:20]
        raise ConfigError(f"{path}: {pharmacy}/{counter} has no entry (this pharmacy's counters: "
                          f"{', '.join(known) or 'none'}); check the ids as the log writes them, or pass "
                          "--add to add the counter")
    pharmacies = data.get("pharmacies") or {}
    data["pharmacies"] = pharmacies
    entry = pharmacies.get(pharmacy) or {}
    pharmacies[pharmacy] = entry
    counters = entry.get("counters") or {}
    entry["counters"] = counters
    old = before.counter(pharmacy, counter)
    if not isinstance(counters.get(counter), dict):
        # a new entry keeps what the counter had from the defaults (zones), not the bare schema's
        counters[counter] = {"zone": [list(p) for p in old.zone], "goods_zone": [list(p) for p in old.goods_zone]}
    counters[counter]["clock_offset_s"] = float(offset_s)
    buffer = io.StringIO()
    _round_trip().dump(data, buffer)
    try:
        CamerasConfig.model_validate(yaml.safe_load(buffer.getvalue()))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from exc
    return Confirmed(old.clock_offset_s, rewrite(path, buffer.getvalue().encode("utf-8")))


def _round_trip():
    """A YAML reader/writer that gives back what it read (comments, order, quotes) around the change."""
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    return rt
