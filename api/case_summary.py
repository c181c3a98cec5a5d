"""The case file's printable summary (``summary.html``, and the PDF made from it): one page per flag
with its case number, in Chinese through the gettext catalogs, whoever exports it.

Per flag: the finding in plain words and its technical details in words (camera time, clock offset,
what was checked, the thresholds), the pharmacy (code, name, operator, address), the camera, the
original segment files with their sha256 (the clip being a re-encoded copy of them), the models with
their sha256, the keyframes, the reviewers with name and badge number — both where the kind needs two,
else that a second one is awaited —, and the signature lines. The page footer numbers the pages
(PDF). Stored text is always escaped (autoescape); nothing is loaded from outside the file.
"""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from api.catalogs import N_, gettext_for, translations
from api.reasons import install_filters, plain_reason
from api.timefmt import case_time
from rxaudit.bounds import REASON_MAX, clip_text
from rxaudit.case_seal import fingerprint
from rxaudit.security import Principal
from rxaudit.settings import Settings
from vision.model_versions import model_files, thresholds

TEMPLATES = Path(__file__).resolve().parent / "templates"
ZH = "zh_CN"
# the cases are api.case_file's _Case (not imported: case_file imports this module)
SUMMARY_LINES_MAX = 100  # settlement lines one flag's page lists (case.json holds every line)

# what each technical value is, in words (the values come from the evidence and the settings)
SEEN_LABELS = {
    "frames_checked": N_("Frames checked around the swipe"),
    "presence_tolerance_s": N_("Camera clock tolerance (s)"),
    "max_persons": N_("Most people seen at once"),
    "distinct_cards": N_("Distinct cards"),
    "gap_s": N_("Seconds between the two settlements"),
    "duplicate_of": N_("Duplicate of settlement"),
    "settlements": N_("Settlements involved"),
    "same_face_settlements": N_("Settlements with the same face"),
    "reused_codes": N_("Reused traceability codes"),
    "linked_settlements": N_("Linked settlements"),
    "threshold": N_("Threshold applied"),
}
THRESHOLD_LABELS = {
    "person_min_score": N_("Person detector: minimum score"),
    "presence_tolerance_s": N_("Default camera clock tolerance (s)"),
    "min_coverage": N_("Footage coverage needed around a swipe"),
    "face_min_score": N_("Face detector: minimum score"),
    "face_distance_threshold": N_("Same-face distance threshold"),
    "object_min_score": N_("Counter detector: minimum score kept"),
    "goods_min_score": N_("Counter detector: minimum calibrated score counted"),
    "goods_min_frames": N_("Frames a goods count must hold in"),
    "goods_window_s": N_("Goods searched within (s) of the swipe"),
    "goods_excess_margin": N_("Goods beyond the bill that raise a goods swap"),
    "goods_head_drug_score": N_("Goods second opinion: drug-packaging probability that reads a drug"),
    "goods_head_strict": N_("Goods second opinion: strict (unsure readings go to review)"),
    "pooling_min_cards": N_("Card pooling: distinct cards"),
    "burst_min_cards": N_("Burst: distinct cards"),
    "burst_window_s": N_("Burst: window (s)"),
    "duplicate_window_s": N_("Duplicate settlement: window (s)"),
    "travel_speed_kmh": N_("Card conflict: travel speed (km/h)"),
    "card_conflict_min_gap_s": N_("Card conflict: shortest gap between pharmacies (s)"),
}
OFFSET_SLOW = N_("The camera clock is %(seconds)s s behind the settlement time")
OFFSET_FAST = N_("The camera clock is %(seconds)s s ahead of the settlement time")
PAGE = N_("Page %(page)s of %(pages)s")
OFFSET_NONE = N_("The camera clock agrees with the settlement time (offset 0 s)")


def _limit_value(value: float | int | bool, gettext) -> str | float | int:
    """A switch in words (是 / 否, as the audit log shows it), a number as it is."""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    return value


def _offset_words(offset: float | None, gettext) -> str | None:
    if offset is None:
        return None
    if abs(offset) < 0.05:
        return gettext(OFFSET_NONE)
    return gettext(OFFSET_FAST if offset > 0 else OFFSET_SLOW) % {"seconds": f"{abs(offset):g}"}


def _technical(case: Any, tz: ZoneInfo, gettext) -> list[tuple[str, str]]:
    """The technical details of one flag as (label in words, value) rows."""
    rows: list[tuple[str, str]] = [(gettext(N_("Flag kind (code)")), case.view.flag.kind),
                                   (gettext(N_("Score")), f"{case.view.flag.score:.2f}")]
    p = case.provenance
    if p.camera_time:
        rows.append((gettext(N_("Swipe on the camera clock")), case_time(datetime.fromisoformat(p.camera_time), tz)))
    words = _offset_words(p.clock_offset_s, gettext)
    if words:
        rows.append((gettext(N_("Clock offset applied")), f"{p.clock_offset_s:+g} s（{words}）"))
    for item in case.view.flag.evidence.get("items", [])[:1]:
        seen = item.get("seen") or {}
        for key, label in SEEN_LABELS.items():
            value = seen.get(key)
            if value not in (None, "", [], {}):
                shown = ", ".join(map(str, value[:20])) if isinstance(value, list) else str(value)
                rows.append((gettext(label), clip_text(shown, 300)))
    return rows


def _reviewers(case: Any, tz: ZoneInfo, gettext) -> list[dict[str, str]]:
    need = 2 if case.two_reviewers else 1
    shown = [{"role": gettext(N_("Reviewer")) if k == 0 else gettext(N_("Second reviewer")),
              "name": r.full_name or r.name, "account": r.name,
              "badge": r.badge_no or gettext(N_("(no badge number recorded)")),
              "at": case_time(r.at, tz)} for k, r in enumerate(case.reviewers[:need])]
    for k in range(len(shown), need):
        role = gettext(N_("Reviewer")) if k == 0 else gettext(N_("Second reviewer"))
        waiting = gettext(N_("awaiting review")) if k == 0 else gettext(N_("awaiting a second reviewer"))
        shown.append({"role": role, "name": waiting, "account": "", "badge": "", "at": ""})
    return shown


def _lines(case: Any) -> tuple[list[dict[str, Any]], int]:
    """(the settlement lines the summary lists, how many more ``case.json`` has)."""
    every = (case.view.settlement.items or {}).get("lines") or []
    return every[:SUMMARY_LINES_MAX], max(0, len(every) - SUMMARY_LINES_MAX)


def page_counter(gettext) -> Markup:
    """The CSS ``content`` of the page footer: the translated "page n of m" around CSS counters."""
    def css(text: str) -> str:
        return '"' + "".join(c if c.isalnum() or c in " ,.，、" else f"\\{ord(c):x} " for c in text) + '"'

    text = gettext(PAGE)
    before, _, rest = text.partition("%(page)s")
    middle, _, after = rest.partition("%(pages)s")
    return Markup(f"{css(before)} counter(page) {css(middle)} counter(pages) {css(after)}")


def render_summary(cases: list[Any], principal: Principal, exported_at: str, tz: ZoneInfo,
                   settings: Settings, key: Ed25519PrivateKey | None) -> str:
    gettext = gettext_for(ZH)
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(ZH), newstyle=True)  # type: ignore[attr-defined]
    env.filters["data_uri"] = lambda data: "data:image/jpeg;base64," + base64.b64encode(data).decode()
    env.filters["tr"] = gettext  # a text marked with N_ in Python, translated in the template
    install_filters(env)  # the labels read the template's ``lang``: ZH below
    info = {c.view.flag.id: {
        "plain": plain_reason(c.view.flag.kind, c.view.flag.reason, c.view.flag.evidence, gettext),
        "raw": clip_text(c.view.flag.reason or "", REASON_MAX),
        "technical": _technical(c, tz, gettext), "lines": _lines(c),
        "reviewers": _reviewers(c, tz, gettext),
    } for c in cases}
    models = [(m.role, m.name, m.sha256) for m in model_files(settings)]
    limits = [(gettext(THRESHOLD_LABELS[name]), _limit_value(value, gettext))
              for name, value in thresholds(settings).items()]
    return env.get_template("case_summary.html").render(
        cases=cases, info=info, exported_by=principal.name, exported_at=exported_at, zone=tz.key,
        models=models, limits=limits, lang=ZH, page_counter=page_counter(gettext),
        key_fingerprint=fingerprint(key.public_key()) if key is not None else None)
