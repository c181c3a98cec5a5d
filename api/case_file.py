"""Case files: the zip a prosecutor receives for one flag or a selection.

::

    summary.html              printable Chinese summary (self-contained: inline CSS, keyframes as
                              data: URIs, no script), one page per flag
    summary.pdf               the same, as PDF, where it renders Chinese (``api.case_pdf``)
    index.json                who exported what, when; per flag its folder and clip state
    flag-<id>-<kind>/case.json        the flag, its settlement record and verdict history
    flag-<id>-<kind>/keyframe-<i>.jpg the keyframes with boxes drawn
    flag-<id>-<kind>/clip.mp4         the clip around the swipe (only when it decodes), else
    flag-<id>-<kind>/clip-unavailable.txt   why there is no clip
    SHA256SUMS                sha256 of every other file (``sha256sum -c SHA256SUMS``)

A clip is checked by decoding every frame before it goes in; one that cannot be cut or decoded is
named in the summary, in ``index.json`` and by ``clip-unavailable.txt`` (which the manifest lists),
never silently left out.

Every export is bounded in time and size (``rxaudit.bounds``): the build runs against a deadline
(``EXPORT_DEADLINE_S``; past it, :class:`~rxaudit.errors.ExportTimeout` and nothing is left behind), the
summary shows each reason clipped to ``REASON_MAX`` and at most ``SUMMARY_LINES_MAX`` lines per settlement
(``case.json`` has them all), and the PDF is rendered from at most ``PDF_TEXT_MAX`` characters, killed at its
own deadline. Scratch folders a dead process left behind are removed by the next export. Every time is local to the pharmacy (``display_timezone``), written
``YYYY-MM-DD HH:MM:SS+08:00``. Card ids are never in it: the record carries the keyed hash only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import av
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from api.case_pdf import render_pdf
from api.evidence import clip_for, keyframe_path
from api.i18n import gettext_for
from api.reasons import install_filters, plain_reason
from api.timefmt import case_time, localize
from rxaudit import bounds
from rxaudit.bounds import PDF_DEADLINE_S, REASON_MAX, clip_text
from database import audit_log, queries
from database.models import utcnow
from database.queries import FlagView
from rxaudit.errors import ExportTimeout, NotFound
from rxaudit.hashing import sha256_file
from rxaudit.security import Principal
from rxaudit.settings import Settings

TEMPLATES = Path(__file__).resolve().parent / "templates"
PDF_MAX_FLAGS = 50  # WeasyPrint takes ~4 s for 50 flags, ~23 s for 200 (measured here)
SUMMARY_LINES_MAX = 100  # settlement lines one flag's page lists (case.json holds every line)
SCRATCH_PREFIX = "rxaudit-case-"  # scratch folders (here) and zips (api.routes_evidence) in the temp dir
STALE_SCRATCH_S = 3600.0  # older than any export may run (EXPORT_DEADLINE_S): its process died
ZH = "zh_CN"  # the case file is Chinese, whatever the UI language of the one exporting it


def local_stamp(value: datetime | str | None, tz: ZoneInfo) -> str | None:
    """The one time convention of case files: ``YYYY-MM-DD HH:MM:SS+08:00`` in the pharmacy's zone."""
    if value is None or value == "":
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}")
    return case_time(when, tz)


def clip_problem(path: Path) -> str | None:
    """None if every frame of the clip's video stream decodes (and there is at least one), else why not."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "no video stream"
            frames = sum(1 for _ in container.decode(container.streams.video[0]))
    except (av.FFmpegError, OSError, ValueError) as exc:
        return f"does not decode ({type(exc).__name__})"
    return None if frames else "no frame decodes"


def clean_stale_scratch(root: Path | None = None, now: float | None = None) -> int:
    """Remove this user's ``rxaudit-case-*`` scratch folders and zips in ``root`` (the temp dir) older
    than ``STALE_SCRATCH_S``: no export runs that long, so a process that died left them. How many."""
    cutoff = (time.time() if now is None else now) - STALE_SCRATCH_S
    removed = 0
    for path in Path(root or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        try:
            info = path.lstat()
            if info.st_mtime > cutoff or info.st_uid != os.getuid():
                continue
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(path)
            else:  # a zip, or a link planted under the name: the link goes, never its target
                path.unlink()
        except OSError:
            continue
        removed += 1
    return removed


class _Deadline:
    """When the export must be done by."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.end = seconds, time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def check(self) -> None:
        if self.left() <= 0:
            raise ExportTimeout(f"the case file was not built within {self.seconds:g} s; export fewer flags")


@dataclass
class _Case:
    folder: str
    view: FlagView
    record: dict[str, Any]
    keyframes: list[tuple[str, bytes]] = field(default_factory=list)
    clip: str | None = None  # file name in the folder, when exported
    clip_missing: str | None = None  # why there is no clip (Chinese), when there is none
    clip_path: Path | None = None  # the checked copy of the clip


def _record(view: FlagView, history: list[dict[str, Any]], tz: ZoneInfo) -> dict[str, Any]:
    f, s = view.flag, view.settlement
    items = []
    for i, item in enumerate(f.evidence.get("items", [])):
        # storage paths (keyframe files, segment URIs) stay out: the folder holds the files
        items.append({"t": local_stamp(item.get("t"), tz), "seen": localize(item.get("seen", {}), tz, case_time),
                      "boxes": item.get("boxes", []),
                      "keyframe": f"keyframe-{i}.jpg" if item.get("keyframe") else None})
    return {
        "flag": {"id": f.id, "kind": f.kind, "score": f.score, "reason": f.reason,
                 "review_status": f.review_status, "evidence": items,
                 "created_at": local_stamp(f.created_at, tz), "updated_at": local_stamp(f.updated_at, tz)},
        "settlement": {"settlement_id": s.settlement_id, "pharmacy_id": s.pharmacy_id,
                       "pharmacy_name": view.pharmacy_name, "district": view.district,
                       "counter_id": s.counter_id, "settled_at": local_stamp(s.settled_at, tz),
                       "amount": str(s.amount), "card_hash": s.card_hash, "items": s.items,
                       "extra": s.extra},
        "verdicts": [{**v, "at": local_stamp(v["at"], tz)} for v in history],
        "timezone": tz.key,
    }


def _gather(session: Session, settings: Settings, principal: Principal, flag_id: int, tz: ZoneInfo,
            snapshot: Path) -> _Case:
    view = queries.get_flag(session, principal, flag_id)
    case = _Case(f"flag-{view.flag.id}-{view.flag.kind}", view,
                 _record(view, queries.verdict_history(session, view.flag.id), tz))
    for i, _ in enumerate(view.flag.evidence.get("items", [])):
        try:
            case.keyframes.append((f"keyframe-{i}.jpg", keyframe_path(settings, view, i).read_bytes()))
        except NotFound:
            pass
    try:
        path, _ = clip_for(session, settings, view)
        shutil.copyfile(path, snapshot)  # what is checked is what is exported, whatever the cache does next
    except (NotFound, OSError):
        check_seen = view.flag.kind != "unverifiable"
        case.clip_missing = ("无法从录像中截取该时段的视频片段（录像缺失或无法解码）" if check_seen
                             else "该结算无可核验录像，故无视频片段")
        return case
    problem = clip_problem(snapshot)
    if problem is None:
        case.clip, case.clip_path = "clip.mp4", snapshot
    else:
        case.clip_missing = f"视频片段无法解码，未导出（{problem}）"
    return case


def _summary(cases: list[_Case], principal: Principal, exported_at: str, tz: ZoneInfo) -> str:
    gettext = gettext_for(ZH)
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True))
    env.filters["data_uri"] = lambda data: "data:image/jpeg;base64," + base64.b64encode(data).decode()
    install_filters(env)  # the labels read the template's ``lang``: ZH below
    plain = {c.view.flag.id: plain_reason(c.view.flag.kind, c.view.flag.reason, c.view.flag.evidence, gettext)
             for c in cases}
    detail = {c.view.flag.id: clip_text(c.view.flag.reason or "", REASON_MAX) for c in cases}
    lines = {c.view.flag.id: _lines(c.view) for c in cases}
    return env.get_template("case_summary.html").render(
        cases=cases, exported_by=principal.name, exported_at=exported_at, zone=tz.key, plain=plain,
        detail=detail, lines=lines, lang=ZH)


def _lines(view: FlagView) -> tuple[list[dict[str, Any]], int]:
    """(the settlement lines the summary lists, how many more ``case.json`` has)."""
    every = (view.settlement.items or {}).get("lines") or []
    return every[:SUMMARY_LINES_MAX], max(0, len(every) - SUMMARY_LINES_MAX)


def build_case_zip(session: Session, settings: Settings, principal: Principal, flag_ids: list[int],
                   tz: ZoneInfo, out: BinaryIO, *, deadline_s: float | None = None) -> str:
    """Write the case file to ``out``; returns the sha256 of its SHA256SUMS. Clips are copied to a
    scratch folder, checked and zipped from there (never held in memory); the folder is removed
    whatever happens. Records the export in the audit log (the caller's transaction commits it).
    NotFound if a flag is outside the principal's districts, ExportTimeout past ``deadline_s``
    (default ``EXPORT_DEADLINE_S``): nothing is written to the log then."""
    deadline = _Deadline(bounds.EXPORT_DEADLINE_S if deadline_s is None else deadline_s)
    clean_stale_scratch()
    exported_at = local_stamp(utcnow(), tz)
    sums: list[str] = []
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:

        def add(name: str, data: bytes) -> None:
            zf.writestr(name, data, zipfile.ZIP_STORED if name.endswith(".jpg") else None)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")

        cases = []
        for flag_id in flag_ids:
            deadline.check()
            case = _gather(session, settings, principal, flag_id, tz, Path(scratch) / f"{flag_id}.mp4")
            cases.append(case)
            case.record["clip"] = {"file": case.clip, "problem": case.clip_missing}
            add(f"{case.folder}/case.json", json.dumps(case.record, indent=2, ensure_ascii=False).encode())
            for name, data in case.keyframes:
                add(f"{case.folder}/{name}", data)
            if case.clip_path is not None:
                zf.write(case.clip_path, f"{case.folder}/clip.mp4", zipfile.ZIP_STORED)
                sums.append(f"{sha256_file(case.clip_path)}  {case.folder}/clip.mp4\n")
                case.clip_path.unlink()
            else:
                add(f"{case.folder}/clip-unavailable.txt", (case.clip_missing + "\n").encode())
        index = {"exported_by": principal.name, "exported_by_kind": principal.kind,
                 "exported_at": exported_at, "timezone": tz.key,
                 "flags": [{"flag_id": c.view.flag.id, "folder": c.folder, "clip": c.clip,
                            "clip_problem": c.clip_missing} for c in cases]}
        deadline.check()
        html = _summary(cases, principal, exported_at, tz)
        pdf, pdf_problem = _pdf(html, len(cases), deadline)
        index["summary_pdf"], index["summary_pdf_problem"] = ("summary.pdf" if pdf else None), pdf_problem
        add("index.json", json.dumps(index, indent=2, ensure_ascii=False).encode())
        add("summary.html", html.encode())
        if pdf is not None:
            add("summary.pdf", pdf)
        manifest = "".join(sums).encode()
        zf.writestr("SHA256SUMS", manifest)
    digest = hashlib.sha256(manifest).hexdigest()
    audit_log.record(session, principal=principal, action="export",
                     subject="flags:" + ",".join(str(c.view.flag.id) for c in cases),
                     detail={"flag_ids": [c.view.flag.id for c in cases], "manifest_sha256": digest,
                             "clips_missing": [c.view.flag.id for c in cases if c.clip is None]})
    return digest


def _pdf(html: str, flags: int, deadline: _Deadline) -> tuple[bytes | None, str | None]:
    """The summary as PDF within what is left of the deadline, else (None, why not)."""
    if flags > PDF_MAX_FLAGS:
        return None, f"PDF only for up to {PDF_MAX_FLAGS} flags; print summary.html instead"
    left = min(PDF_DEADLINE_S, deadline.left() - 1.0)  # a second to write the zip
    if left <= 0:
        return None, "no time left to render a PDF; print summary.html instead"
    return render_pdf(html, timeout_s=left)
