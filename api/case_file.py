"""Case files: the zip a prosecutor receives for one flag or a selection, sealed.

::

    summary.html              printable Chinese summary (self-contained: inline CSS, keyframes as
                              data: URIs, no script), one page per flag, with its case number
    summary.pdf               the same, as PDF with page numbers and signature lines, where it
                              renders Chinese (``api.case_pdf``)
    index.json                who exported what, when; per flag its case number, folder and clip state
    flag-<id>-<kind>/case.json        the flag, its settlement record, verdict history, reviewers,
                                      camera, clock offset, source segments (sha256), models, thresholds
    flag-<id>-<kind>/keyframe-<i>.jpg the keyframes with boxes drawn
    flag-<id>-<kind>/clip.mp4         a re-encoded copy of the window around the swipe (only when it
                                      decodes), else
    flag-<id>-<kind>/clip-unavailable.txt   why there is no clip
    public-key.pem            the bureau's Ed25519 public key (when a signing key is configured)
    SHA256SUMS                sha256 of every member above (``sha256sum -c SHA256SUMS``)
    SHA256SUMS.sig            Ed25519 signature of SHA256SUMS (``rxaudit verify-case``)

The zip has the canonical layout of :mod:`rxaudit.sealed_zip` (every member stored, fixed headers), so
``rxaudit verify-case`` finds any changed byte (:mod:`rxaudit.case_seal`). Without a configured key
the case file is written unsigned and says so (``index.json``, the summary); it then does not verify.

A clip is checked by decoding every frame before it goes in; one that cannot be cut or decoded is
named in the summary, in ``index.json`` and by ``clip-unavailable.txt`` (which the manifest lists),
never silently left out.

Every export is bounded in time and size (``rxaudit.bounds``): the build runs against a deadline
(``EXPORT_DEADLINE_S``; past it, :class:`~rxaudit.errors.ExportTimeout` and nothing is left behind), the
summary shows each reason clipped to ``REASON_MAX`` and at most ``SUMMARY_LINES_MAX`` lines per settlement
(``case.json`` has them all), the source segments are hashed within ``api.case_provenance``'s bounds,
and the PDF is rendered from at most ``PDF_TEXT_MAX`` characters, killed at its own deadline. Scratch
folders a dead process left behind are removed by the next export. Every time is local to the pharmacy
(``display_timezone``), written ``YYYY-MM-DD HH:MM:SS+08:00``. Card ids are never in it: the record
carries the keyed hash only; the private key never is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import av
from sqlalchemy.orm import Session

from api.case_pdf import render_pdf
from api.case_provenance import Provenance, provenance
from api.case_summary import render_summary
from api.catalogs import N_, gettext_for
from api.evidence import clip_for, keyframe_path
from api.timefmt import case_time, localize
from database import audit_log, queries
from database.case_numbers import Reviewer, case_number, confirming_reviewers
from database.models import Pharmacy, utcnow
from database.queries import FlagView
from rxaudit import bounds
from rxaudit.bounds import PDF_DEADLINE_S
from rxaudit.case_seal import PUBLIC_KEY, SIGNATURE, SUMS, manifest, public_pem, sign, signing_key
from rxaudit.errors import ExportTimeout, NotFound
from rxaudit.sealed_zip import CanonicalZipWriter
from rxaudit.security import Principal
from rxaudit.settings import Settings
from vision.model_versions import model_files, thresholds

PDF_MAX_FLAGS = 50  # WeasyPrint takes ~4 s for 50 flags, ~23 s for 200 (measured here)
SCRATCH_PREFIX = "rxaudit-case-"  # scratch folders (here) and zips (api.routes_evidence) in the temp dir
STALE_SCRATCH_S = 3600.0  # older than any export may run (EXPORT_DEADLINE_S): its process died
ZH = "zh_CN"  # the case file is Chinese, whatever the UI language of the one exporting it
CLIP_NOT_CUT = N_("The clip of this moment could not be cut from the footage (footage missing or undecodable)")
NO_FOOTAGE = N_("This settlement has no footage to check, so there is no clip")
CLIP_BROKEN = N_("The clip does not decode and was not exported (%(problem)s)")
UNSIGNED = N_("not signed: no signing key is configured (case_signing_key_file)")


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
    case_no: str
    provenance: Provenance
    reviewers: list[Reviewer]
    two_reviewers: bool  # the kind needs a second reviewer (settings.case_two_reviewer_kinds)
    pharmacy: Pharmacy | None
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
            snapshot: Path, deadline: _Deadline, year: int) -> _Case:
    view = queries.get_flag(session, principal, flag_id)
    f = view.flag
    found = provenance(session, settings, view, lambda: deadline.left() - 2.0)
    reviewers = confirming_reviewers(session, flag_id=f.id)
    case = _Case(f"flag-{f.id}-{f.kind}", view, _record(view, queries.verdict_history(session, f.id), tz),
                 case_number(session, flag_id=f.id, district=view.district, year=year), found, reviewers,
                 f.kind in settings.case_two_reviewer_kinds, session.get(Pharmacy, view.settlement.pharmacy_id))
    p = case.pharmacy
    case.record.update({
        "case_no": case.case_no, **found.to_json(),
        "pharmacy": {"pharmacy_id": view.settlement.pharmacy_id, "name": view.pharmacy_name,
                     "operator": p.operator if p else None, "address": p.address if p else None},
        "reviewers": [{"name": r.name, "full_name": r.full_name, "badge_no": r.badge_no,
                       "confirmed_at": local_stamp(r.at, tz)} for r in reviewers],
        "second_reviewer_required": case.two_reviewers,
        "models": [vars(m) for m in model_files(settings)], "thresholds": thresholds(settings)})
    for i, _ in enumerate(f.evidence.get("items", [])):
        try:
            case.keyframes.append((f"keyframe-{i}.jpg", keyframe_path(settings, view, i).read_bytes()))
        except NotFound:
            pass
    zh = gettext_for(ZH)
    try:
        path, _ = clip_for(session, settings, view)
        shutil.copyfile(path, snapshot)  # what is checked is what is exported, whatever the cache does next
    except (NotFound, OSError):
        case.clip_missing = zh(CLIP_NOT_CUT if f.kind != "unverifiable" else NO_FOOTAGE)
        return case
    problem = clip_problem(snapshot)
    if problem is None:
        case.clip, case.clip_path = "clip.mp4", snapshot
    else:
        case.clip_missing = zh(CLIP_BROKEN) % {"problem": problem}
    return case


def build_case_zip(session: Session, settings: Settings, principal: Principal, flag_ids: list[int],
                   tz: ZoneInfo, out: BinaryIO, *, deadline_s: float | None = None) -> str:
    """Write the case file to ``out``; returns the sha256 of its SHA256SUMS. Clips are copied to a
    scratch folder, checked and zipped from there (never held in memory); the folder is removed
    whatever happens. Records the export in the audit log and gives each flag its case number (the
    caller's transaction commits both). NotFound if a flag is outside the principal's districts,
    ExportTimeout past ``deadline_s`` (default ``EXPORT_DEADLINE_S``): nothing is written to the log
    then. ConfigError when a signing key is configured but cannot be read."""
    deadline = _Deadline(bounds.EXPORT_DEADLINE_S if deadline_s is None else deadline_s)
    key = signing_key(settings)  # a configured key that cannot be read fails before any work
    clean_stale_scratch()
    now = utcnow()
    exported_at = local_stamp(now, tz)
    sums: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch:
        zf = CanonicalZipWriter(out)

        def add(name: str, data: bytes) -> None:
            sums.append((name, zf.add_bytes(name, data)))

        cases = []
        for flag_id in flag_ids:
            deadline.check()
            case = _gather(session, settings, principal, flag_id, tz, Path(scratch) / f"{flag_id}.mp4",
                           deadline, now.astimezone(tz).year)
            cases.append(case)
            case.record["clip"] = {"file": case.clip, "problem": case.clip_missing,
                                   "re_encoded_copy_of": [s.name for s in case.provenance.segments]}
            add(f"{case.folder}/case.json", json.dumps(case.record, indent=2, ensure_ascii=False).encode())
            for name, data in case.keyframes:
                add(f"{case.folder}/{name}", data)
            if case.clip_path is not None:
                sums.append((f"{case.folder}/clip.mp4", zf.add_file(f"{case.folder}/clip.mp4", case.clip_path)))
                case.clip_path.unlink()
            else:
                add(f"{case.folder}/clip-unavailable.txt", (case.clip_missing + "\n").encode())
        signed = None if key is None else {"public_key": PUBLIC_KEY, "signature": SIGNATURE}
        index = {"exported_by": principal.name, "exported_by_kind": principal.kind,
                 "exported_at": exported_at, "timezone": tz.key, "signed": signed,
                 "unsigned_reason": None if key else gettext_for(ZH)(UNSIGNED),
                 "flags": [{"flag_id": c.view.flag.id, "case_no": c.case_no, "folder": c.folder, "clip": c.clip,
                            "clip_problem": c.clip_missing} for c in cases]}
        deadline.check()
        html = render_summary(cases, principal, exported_at, tz, settings, key)
        pdf, pdf_problem = _pdf(html, len(cases), deadline)
        index["summary_pdf"], index["summary_pdf_problem"] = ("summary.pdf" if pdf else None), pdf_problem
        add("index.json", json.dumps(index, indent=2, ensure_ascii=False).encode())
        add("summary.html", html.encode())
        if pdf is not None:
            add("summary.pdf", pdf)
        if key is not None:
            add(PUBLIC_KEY, public_pem(key))
        sums_bytes = manifest(sums)
        zf.add_bytes(SUMS, sums_bytes)
        if key is not None:
            zf.add_bytes(SIGNATURE, sign(key, sums_bytes))
        zf.close()
    digest = hashlib.sha256(sums_bytes).hexdigest()
    audit_log.record(session, principal=principal, action="export",
                     subject="flags:" + ",".join(str(c.view.flag.id) for c in cases),
                     detail={"flag_ids": [c.view.flag.id for c in cases], "manifest_sha256": digest,
                             "case_nos": [c.case_no for c in cases], "signed": key is not None,
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
