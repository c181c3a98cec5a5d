"""Why a flag was raised, in plain words per language: a structured code + parameters derived from the
flag's kind and the evidence the rules already store (``evidence.items[0].seen``), rendered through the
gettext catalogs. The rules' own English text (``flag.reason``) stays as the technical detail.

A rule may later store ``seen["reason_code"]`` / ``seen["reason_params"]`` itself; they win here.
Card ids never reach this module: the rules store only keyed hashes, and none is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, pass_context

from api.catalogs import N_, gettext_for
from api.timefmt import duration
from rxaudit.bounds import REASON_MAX, clip_text, listing

KIND_LABELS: dict[str, str] = {
    "no_customer": N_("No customer present"),
    "card_pooling": N_("Card pooling"),
    "goods_mismatch": N_("Goods swap"),
    "unverifiable": N_("Unverifiable"),
    "off_hours": N_("Off hours"),
    "burst": N_("Burst of swipes"),
    "duplicate_settlement": N_("Duplicate settlement"),
    "stock_shortfall": N_("Stock shortfall"),
    "trace_code_reuse": N_("Trace code reused"),
    "card_conflict": N_("Card in two places"),
    "goods_unclear": N_("Goods unclear (for review)"),
    "camera_tamper": N_("Camera tampered"),
}
STATUS_LABELS: dict[str, str] = {
    "open": N_("open"), "confirmed": N_("confirmed"), "dismissed": N_("dismissed"), "escalated": N_("escalated"),
}
ACTION_LABELS: dict[str, str] = {
    "confirm": N_("Confirm"), "dismiss": N_("Dismiss"), "escalate": N_("Escalate"), "reopen": N_("Reopen"),
}
ROLE_LABELS: dict[str, str] = {"inspector": N_("inspector"), "supervisor": N_("supervisor"), "admin": N_("admin")}
AUDIT_ACTIONS: dict[str, str] = {
    "sign_in": N_("Signed in"), "sign_in_failed": N_("Sign-in refused"), "sign_out": N_("Signed out"),
    "verdict": N_("Verdict"), "export": N_("Case export"), "user_add": N_("User added"),
    "key_create": N_("API key created"), "key_revoke": N_("API key revoked"),
    "verdict_undo": N_("Verdict undone"), "view_evidence": N_("Evidence viewed"),
}
DISMISS_REASONS: dict[str, str] = {
    "wrong_detection": N_("Wrong detection"),
    "customer_off_camera": N_("Customer off camera"),
    "clock_offset": N_("Camera clock offset"),
    "other": N_("Other"),
}

# code -> sentence; %(name)s placeholders are filled from the params
SENTENCES: dict[str, str] = {
    "no_customer": N_("No customer at the counter when the card was swiped (nobody within %(tol)s s either side)"),
    "no_customer.staff_only": N_("%(n)s person(s) seen only behind the counter (staff side)"),
    "no_customer.card_staff_side": N_("%(n)s card(s) or phone(s) on the staff side of the counter at the swipe"),
    "card_pooling.same_visit": N_("%(cards)s different cards paid while one customer stayed at the counter"),
    "card_pooling.cards_together": N_("%(n)s cards seen on the counter at once"),
    "card_pooling.same_face": N_("The same face paid with %(cards)s different cards within %(days)s days"),
    "goods_mismatch.non_covered": N_("%(seen)s non-covered item(s) (food, drink, cosmetics, daily goods) on the "
                                     "counter, but the bill has %(billed)s non-drug line(s)"),
    "goods_mismatch.excess": N_("%(seen)s goods on the counter for %(billed)s billed"),
    "goods_unclear": N_("%(seen)s item(s) on the counter may be non-covered goods, beyond the bill's %(billed)s "
                        "non-drug line(s), but the detector is not decisive: for review, not an accusation"),
    "unverifiable.no_camera": N_("No camera is known for this counter"),
    "unverifiable.no_footage": N_("No video was recorded around the swipe"),
    "unverifiable.partial_footage": N_("Only part of the video around the swipe exists (%(got)s of %(expected)s "
                                       "frames)"),
    "unverifiable.not_examined": N_("No video was examined for this settlement"),
    "unverifiable.damaged": N_("The video around the swipe could not be read"),
    "unverifiable.gap": N_("Not recorded: the camera was not recording %(from)s–%(to)s (%(why)s)"),
    "unverifiable.gap_open": N_("Not recorded: the camera has not been recording since %(from)s (%(why)s)"),
    "camera_tamper.black": N_("The picture was black at the swipe while the stream was up (%(span)s)"),
    "camera_tamper.uniform": N_("The picture was uniform at the swipe, the lens covered? (%(span)s)"),
    "camera_tamper.frozen": N_("The picture was frozen at the swipe (%(span)s)"),
    "camera_tamper.turned": N_("The camera was turned away from the counter at the swipe (%(span)s)"),
    "off_hours": N_("Paid at %(at)s, outside opening hours %(opens)s–%(closes)s"),
    "burst": N_("%(cards)s different cards paid at this counter within %(minutes)s min"),
    "duplicate_settlement": N_("Same card and amount as settlement %(other)s, %(gap)s earlier"),
    "stock_shortfall": N_("Item %(item)s: %(short)s more sold than the pharmacy had (counted %(count)s, "
                          "received %(received)s, sold %(sold)s since the count)"),
    "trace_code_reuse": N_("Drug traceability code %(codes)s sold more than once (also in %(others)s)"),
    "card_conflict": N_("The same card paid at %(other)s %(gap)s apart (at least %(limit)s needed to get "
                        "there)"),
    "unknown": N_("See the technical detail"),
}


class Seconds(float):
    """A reason's parameter that is a duration: rendered in words in the reader's language
    (``45 s``, ``3 min 20 s``, ``2 h 5 min``; ``api.timefmt.duration``)."""


@dataclass(frozen=True)
class Reason:
    code: str
    params: dict[str, Any] = field(default_factory=dict)


def _seconds(value: Any) -> Seconds | str:
    try:
        return Seconds(round(float(value)))
    except (TypeError, ValueError):
        return "?"


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _seen(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    items = (evidence or {}).get("items") or []
    return dict(items[0].get("seen") or {}) if items else {}


def _no_customer(seen: dict, text: str) -> list[Reason]:
    out = [Reason("no_customer", {"tol": _num(seen.get("presence_tolerance_s", 1))})]
    if seen.get("max_persons"):
        out.append(Reason("no_customer.staff_only", {"n": seen["max_persons"]}))
    staff_cards = (seen.get("goods") or {}).get("payment_staff_side")
    if staff_cards:
        out.append(Reason("no_customer.card_staff_side", {"n": staff_cards}))
    return out


def _card_pooling(seen: dict, text: str) -> list[Reason]:
    if "same_face_settlements" in seen:
        days = re.search(r"within (\d+) days", text)
        return [Reason("card_pooling.same_face", {"cards": seen.get("distinct_cards", "?"),
                                                  "days": days.group(1) if days else "?"})]
    out = [Reason("card_pooling.same_visit", {"cards": seen.get("distinct_cards", "?")})]
    if seen.get("cards_seen_together"):
        out.append(Reason("card_pooling.cards_together", {"n": seen["cards_seen_together"]}))
    return out


def _goods(seen: dict, text: str) -> list[Reason]:
    counts = (seen.get("goods") or {}).get("counts") or {}
    billed = seen.get("billed") or {}
    out = []
    m = re.search(r"bill has ([\d.]+) non-drug", text)
    if "non-covered item" in text:
        out.append(Reason("goods_mismatch.non_covered", {"seen": counts.get("non_covered", "?"),
                                                         "billed": m.group(1) if m else "?"}))
    if "goods seen on the counter for" in text:
        out.append(Reason("goods_mismatch.excess", {
            "seen": counts.get("non_covered", 0) + counts.get("drug", 0),
            "billed": _num(sum(v for v in billed.values() if isinstance(v, int | float)))}))
    return out or [Reason("unknown")]


def _goods_unclear(seen: dict, text: str) -> list[Reason]:
    goods = seen.get("goods") or {}
    m = re.search(r"bill's ([\d.]+) non-drug", text)
    return [Reason("goods_unclear", {"seen": goods.get("possible_non_covered", "?"),
                                     "billed": m.group(1) if m else "?"})]


def _gap(span: dict) -> Reason:
    params = {"from": span.get("from", "?"), "why": span.get("reason", "?")}
    if span.get("to") is None and span.get("end") is None:
        return Reason("unverifiable.gap_open", params)
    return Reason("unverifiable.gap", {**params, "to": span.get("to", "?")})


def _unverifiable(seen: dict, text: str) -> list[Reason]:
    gaps = [g for g in seen.get("camera_gaps") or [] if isinstance(g, dict)]
    if gaps:  # the recorder's gap says why there is no footage
        return [_gap(g) for g in gaps]
    if "unknown counter" in text or "no video is recorded" in text:
        return [Reason("unverifiable.no_camera")]
    if "no footage was examined" in text:
        return [Reason("unverifiable.not_examined")]
    if m := re.search(r"footage for only (\d+) of (\d+)", text):
        return [Reason("unverifiable.partial_footage", {"got": m.group(1), "expected": m.group(2)})]
    if "no footage" in text:
        return [Reason("unverifiable.no_footage")]
    return [Reason("unverifiable.damaged")]


def _camera_tamper(seen: dict, text: str) -> list[Reason]:
    out = []
    for span in seen.get("camera_tamper") or []:
        if not isinstance(span, dict):
            continue
        what = str(span.get("reason"))
        since = span.get("from", "?")
        out.append(Reason(f"camera_tamper.{what}" if f"camera_tamper.{what}" in SENTENCES else "unknown",
                          {"span": f"{since}–{span.get('to') or '…'}"}))
    return out or [Reason("unknown")]


def _off_hours(seen: dict, text: str) -> list[Reason]:
    m = re.search(r"at (\d\d:\d\d) local time, outside business hours (\d\d:\d\d)-(\d\d:\d\d)", text)
    if not m:
        return [Reason("unknown")]
    return [Reason("off_hours", {"at": m.group(1), "opens": m.group(2), "closes": m.group(3)})]


def _burst(seen: dict, text: str) -> list[Reason]:
    m = re.search(r"within ([\d.]+) min", text)
    return [Reason("burst", {"cards": seen.get("distinct_cards", "?"), "minutes": m.group(1) if m else "?"})]


def _duplicate(seen: dict, text: str) -> list[Reason]:
    return [Reason("duplicate_settlement", {"other": seen.get("duplicate_of", "?"),
                                            "gap": _seconds(seen.get("gap_s"))})]


def _stock(seen: dict, text: str) -> list[Reason]:
    ledger = seen.get("ledger") or {}
    balance = ledger.get("balance")
    short = _num(-balance) if isinstance(balance, int | float) else str(balance or "?").lstrip("-")
    return [Reason("stock_shortfall", {"item": ledger.get("item_code", "?"), "short": short,
                                       "count": ledger.get("count", "?"), "received": ledger.get("received_since", "?"),
                                       "sold": ledger.get("sold_since", "?")})]


def _some(values: list | None, total: Any) -> str:
    """The first few of ``values`` and how many more there are (``a, b, c … +5997``)."""
    names = [str(v) for v in values or []] or ["?"]
    return listing(names, total if isinstance(total, int) and total >= len(names) else len(names))


def _trace(seen: dict, text: str) -> list[Reason]:
    return [Reason("trace_code_reuse", {"codes": _some(seen.get("reused_codes"), seen.get("codes_total")),
                                        "others": _some(seen.get("linked_settlements"), seen.get("partners_total"))})]


def _conflict(seen: dict, text: str) -> list[Reason]:
    out = []
    for c in seen.get("conflicts") or []:
        out.append(Reason("card_conflict", {
            "other": c.get("settlement_id", "?"), "gap": _seconds(c.get("gap_s")),
            "limit": _seconds(c.get("limit_s"))}))
    return out or [Reason("unknown")]


DERIVE: dict[str, Callable[[dict, str], list[Reason]]] = {
    "no_customer": _no_customer, "card_pooling": _card_pooling, "goods_mismatch": _goods,
    "unverifiable": _unverifiable, "off_hours": _off_hours, "burst": _burst,
    "duplicate_settlement": _duplicate, "stock_shortfall": _stock, "trace_code_reuse": _trace,
    "card_conflict": _conflict, "goods_unclear": _goods_unclear, "camera_tamper": _camera_tamper,
}


def reasons_of(kind: str, reason: str, evidence: Mapping[str, Any] | None) -> list[Reason]:
    """The structured reasons of one flag: the rule's own code when it stored one, else derived."""
    seen = _seen(evidence)
    if isinstance(seen.get("reason_code"), str) and seen["reason_code"] in SENTENCES:
        return [Reason(seen["reason_code"], dict(seen.get("reason_params") or {}))]
    derive = DERIVE.get(kind)
    return derive(seen, reason or "") if derive else [Reason("unknown")]


def _shown(value: Any, gettext: Callable[[str], str]) -> Any:
    return duration(value, gettext) if isinstance(value, Seconds) else value


def render(reasons: list[Reason], gettext: Callable[[str], str]) -> str:
    """Sentences in the caller's language, joined; a parameter a sentence lacks shows as '?'."""
    out = []
    for r in reasons:
        template = gettext(SENTENCES.get(r.code, SENTENCES["unknown"]))
        names = re.findall(r"%\((\w+)\)s", template)
        out.append(template % {n: _shown(r.params.get(n, "?"), gettext) for n in names})
    sep = "；" if any("\u4e00" <= ch <= "\u9fff" for ch in "".join(out)) else "; "
    return sep.join(out)


def plain_reason(kind: str, reason: str, evidence: Mapping[str, Any] | None, gettext: Callable[[str], str]) -> str:
    """The flag's reasons in plain words, at most REASON_MAX characters."""
    return clip_text(render(reasons_of(kind, reason, evidence), gettext), REASON_MAX)


def _label(table: dict[str, str]):
    @pass_context
    def label(ctx, code: Any) -> str:
        text = table.get(str(code))
        return gettext_for(ctx.get("lang", "en"))(text) if text else str(code)
    return label


@pass_context
def _plain_reason_filter(ctx, flag: Any) -> str:
    return plain_reason(flag.kind, flag.reason, flag.evidence, gettext_for(ctx.get("lang", "en")))


def install_filters(env: Environment) -> None:
    """``kind_label``, ``status_label``, ``action_label``, ``dismiss_label``, ``role_label``, ``plain_reason``."""
    env.filters.update(kind_label=_label(KIND_LABELS), status_label=_label(STATUS_LABELS),
                       action_label=_label(ACTION_LABELS), dismiss_label=_label(DISMISS_REASONS),
                       role_label=_label(ROLE_LABELS), audit_label=_label(AUDIT_ACTIONS),
                       plain_reason=_plain_reason_filter)
