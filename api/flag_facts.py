"""The facts that decide a flag, per kind, for the flag page (in the page's language there).

- 空刷 (no_customer): the customer timeline around the swipe (who left last, who came next) from the
  stored clock profile, the camera's clock offset, the customer zone (``seen["zone"]``).
- 串换 (goods_mismatch): what the counter detector saw (counts and each box, for crops) beside the bill.
- 进销存 (stock_shortfall): the ledger: the count, each delivery (supplier, invoice), each sale.
- 追溯码 (trace_code_reuse): the codes on each bill line (``sold_trace_codes``).

Everything is read from what the audit stored; every list is bounded. Settlements of other kinds and
other districts are :mod:`api.partners`' business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.catalogs import N_
from database.models import PurchaseRow, SettlementRow, SoldTraceCode
from database.queries import FlagView
from rxaudit.domain import COUNTER_CLASSES

MAX_ZONE_POINTS = 64
MAX_CROPS = 12
MAX_DELIVERIES = 50
MAX_SALES = 50
MAX_SALES_SCANNED = 2000  # settlements of the pharmacy read to find the item's sales
MAX_CODE_ROWS = 200

# the detector's classes and the catalogue's categories, as the page names them
OBJECT_LABELS: dict[str, str] = {
    "card": N_("card"), "phone": N_("phone"), "drug": N_("drug"),
    "non_covered": N_("non-covered goods (food, drink, cosmetics, daily goods)"), "unclear": N_("unclear object"),
}
CATEGORY_LABELS: dict[str, str] = {
    "covered": N_("covered drug"), "other": N_("non-covered goods"), "unknown": N_("not in the catalogue"),
}


# the technical detail in the page's language: what the rules measured (scalars of ``seen``)
TECH_LABELS: dict[str, str] = {
    "camera_time": N_("camera time of the swipe"), "presence_tolerance_s": N_("clock tolerance (s)"),
    "frames_checked": N_("frames checked around the swipe"), "max_persons": N_("most people in one frame"),
    "max_customers": N_("most customers in one frame"), "customer_wrists_in_zone": N_("customer wrists over the counter"),
    "faces": N_("faces seen"), "distinct_cards": N_("distinct cards"), "track_id": N_("customer track"),
    "duplicate_of": N_("duplicate of"), "gap_s": N_("seconds apart"), "threshold": N_("face distance threshold"),
    "cards_seen_together": N_("cards seen together"), "codes_total": N_("codes reused"),
    "partners_total": N_("other settlements"),
}


def tech_rows(seen: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label msgid, value) for the scalar measurements a rule stored, in :data:`TECH_LABELS` order."""
    return [(label, seen[key]) for key, label in TECH_LABELS.items()
            if isinstance(seen.get(key), str | int | float) and not isinstance(seen.get(key), bool)]


def first_seen(view: FlagView) -> dict[str, Any]:
    items = (view.flag.evidence or {}).get("items") or []
    seen = items[0].get("seen") if items and isinstance(items[0], dict) else None
    return seen if isinstance(seen, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


# -- 空刷 -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timeline:
    """Customers around the swipe, in seconds from it (camera time, offset applied)."""

    bound_s: float
    customers: list[tuple[float, float]]
    decoded: list[tuple[float, float]]
    last_left_s: float | None  # seconds before the swipe the last customer left (None: nobody within reach)
    next_arrived_s: float | None  # seconds after the swipe the next customer arrived
    checked_before_s: float  # how far back the footage was decoded without a hole
    checked_after_s: float
    present: bool  # a customer interval spans the swipe itself

    def x(self, t: float) -> float:
        """``t`` (seconds from the swipe) on the page's 0-1000 timeline drawing."""
        return round((min(max(t, -self.bound_s), self.bound_s) + self.bound_s) / (2 * self.bound_s) * 1000, 1)

    def w(self, a: float, b: float, least: float = 1.0) -> float:
        return max(self.x(b) - self.x(a), least)


def _intervals(value: Any, bound: float) -> list[tuple[float, float]]:
    out = []
    for pair in (value if isinstance(value, list) else [])[:500]:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            a, b = _number(pair[0]), _number(pair[1])
            if a is not None and b is not None and a <= b:
                out.append((max(a, -bound), min(b, bound)))
    return sorted(out)


def timeline(seen: dict[str, Any], bound_s: float) -> Timeline | None:
    """From ``seen["clock_profile"]`` (reconcile.clock_health.presence_profile); None when absent."""
    profile = seen.get("clock_profile")
    if not isinstance(profile, dict):
        return None
    customers = _intervals(profile.get("customers"), bound_s)
    decoded = _intervals(profile.get("decoded"), bound_s)
    before = [b for a, b in customers if b < 0]
    after = [a for a, b in customers if a > 0]
    around = next(((a, b) for a, b in decoded if a <= 0 <= b), (0.0, 0.0))
    return Timeline(bound_s, customers, decoded,
                    last_left_s=-max(before) if before else None,
                    next_arrived_s=min(after) if after else None,
                    checked_before_s=-around[0], checked_after_s=around[1],
                    present=any(a <= 0 <= b for a, b in customers))


def clock_offset_s(seen: dict[str, Any], settled_at: datetime) -> float | None:
    """Camera clock minus settlement clock, as applied by the audit: the profile's ``offset_s``,
    else the stored camera time minus the settlement time."""
    profile = seen.get("clock_profile")
    if isinstance(profile, dict) and (value := _number(profile.get("offset_s"))) is not None:
        return value
    camera = seen.get("camera_time")
    if isinstance(camera, str):
        try:
            return (datetime.fromisoformat(camera) - settled_at).total_seconds()
        except (ValueError, TypeError):
            return None
    return None


def zone(seen: dict[str, Any]) -> list[tuple[float, float]] | None:
    """The customer zone (relative polygon) the audit used; None when not stored or malformed."""
    points = seen.get("zone")
    if not isinstance(points, list) or not 3 <= len(points) <= MAX_ZONE_POINTS:
        return None
    out = []
    for p in points:
        if not (isinstance(p, list | tuple) and len(p) == 2):
            return None
        x, y = _number(p[0]), _number(p[1])
        if x is None or y is None or not (0 <= x <= 1 and 0 <= y <= 1):
            return None
        out.append((x, y))
    return out


# -- 串换 -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeenObject:
    index: int  # the box's index in the evidence item's boxes: the crop's address
    cls: str
    score: float | None


@dataclass(frozen=True)
class Goods:
    counts: dict[str, int]  # detector class -> count held around the swipe
    billed: dict[str, float]  # catalogue category -> billed quantity
    objects: list[SeenObject]  # boxes of the counter detector on the keyframe


def object_boxes(view: FlagView) -> list[SeenObject]:
    """The counter detector's boxes on the flag's first keyframe (labels ``"<class> <score>"``)."""
    items = (view.flag.evidence or {}).get("items") or []
    item = next((e for e in items if isinstance(e, dict) and e.get("keyframe")), None)
    out: list[SeenObject] = []
    for k, b in enumerate((item or {}).get("boxes") or []):
        label = b.get("label") if isinstance(b, dict) else None
        if not isinstance(label, str):
            continue
        cls, _, score = label.partition(" ")
        if cls in COUNTER_CLASSES or cls == "unclear":
            try:
                value = float(score) if score else None
            except ValueError:
                value = None
            out.append(SeenObject(k, cls, value))
        if len(out) >= MAX_CROPS:
            break
    return out


def goods(view: FlagView, seen: dict[str, Any]) -> Goods:
    g = seen.get("goods") if isinstance(seen.get("goods"), dict) else {}
    counts = {str(k): int(v) for k, v in (g.get("counts") or {}).items()
              if isinstance(v, int) and not isinstance(v, bool) and v > 0}
    billed = {str(k): float(v) for k, v in (seen.get("billed") or {}).items() if _number(v) is not None and v}
    return Goods(counts, billed, object_boxes(view))


# -- 进销存 ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LedgerEntry:
    at: datetime
    what: str  # count | delivery | sale
    quantity: Decimal
    balance: Decimal | None
    supplier: str = ""
    invoice_no: str = ""
    settlement_id: str = ""
    this: bool = False  # the flagged sale


@dataclass
class Ledger:
    item_code: str
    item_name: str
    counted_at: datetime | None
    count: Any
    entries: list[LedgerEntry] = field(default_factory=list)
    more_deliveries: bool = False
    more_sales: bool = False
    stored: dict[str, Any] = field(default_factory=dict)  # the rule's own numbers


def _quantity(line: dict[str, Any]) -> Decimal:
    try:
        return Decimal(str(line.get("quantity", "0")))
    except InvalidOperation:
        return Decimal(0)


def _lines(row: SettlementRow) -> list[dict[str, Any]]:
    lines = (row.items or {}).get("lines") or []
    return [x for x in lines if isinstance(x, dict)]


def ledger(session: Session, view: FlagView, seen: dict[str, Any]) -> Ledger | None:
    """The ledger behind a stock shortfall: the count, then deliveries and sales up to this sale."""
    stored = seen.get("ledger")
    if not isinstance(stored, dict) or not isinstance(stored.get("item_code"), str):
        return None
    s = view.settlement
    code = stored["item_code"]
    name = next((str(x.get("item_name") or "") for x in _lines(s) if x.get("item_code") == code), "")
    try:
        counted_at = datetime.fromisoformat(stored["counted_at"])
    except (KeyError, TypeError, ValueError):
        return Ledger(code, name, None, stored.get("count"), stored=stored)
    out = Ledger(code, name, counted_at, stored.get("count"), stored=stored)
    deliveries = list(session.scalars(
        select(PurchaseRow).where(PurchaseRow.pharmacy_id == s.pharmacy_id, PurchaseRow.item_code == code,
                                  PurchaseRow.received_at >= counted_at, PurchaseRow.received_at <= s.settled_at)
        .order_by(PurchaseRow.received_at, PurchaseRow.id).limit(MAX_DELIVERIES + 1)))
    out.more_deliveries = len(deliveries) > MAX_DELIVERIES
    rows = list(session.scalars(
        select(SettlementRow).where(SettlementRow.pharmacy_id == s.pharmacy_id,
                                    SettlementRow.settled_at >= counted_at, SettlementRow.settled_at <= s.settled_at)
        .order_by(SettlementRow.settled_at, SettlementRow.settlement_id).limit(MAX_SALES_SCANNED)))
    sales = [(r, sum((_quantity(x) for x in _lines(r) if x.get("item_code") == code), Decimal(0)))
             for r in rows]
    sales = [(r, q) for r, q in sales if q > 0]
    out.more_sales = len(sales) > MAX_SALES or len(rows) >= MAX_SALES_SCANNED
    if len(sales) > MAX_SALES:  # the latest ones lead to this sale
        sales = sales[-MAX_SALES:]
    try:
        balance: Decimal | None = Decimal(str(stored.get("count")))
    except InvalidOperation:
        balance = None
    events: list[tuple[datetime, int, str, Any]] = [(d.received_at, 1, f"{d.id:012d}", d)
                                                    for d in deliveries[:MAX_DELIVERIES]]
    events += [(r.settled_at, 2, r.settlement_id, (r, q)) for r, q in sales]
    out.entries.append(LedgerEntry(counted_at, "count", balance or Decimal(0), balance))
    partial = out.more_sales or out.more_deliveries
    for at, order, _, thing in sorted(events, key=lambda e: (e[0], e[1], e[2])):
        if order == 1:
            balance = None if balance is None or partial else balance + thing.quantity
            out.entries.append(LedgerEntry(at, "delivery", thing.quantity, balance, supplier=thing.supplier,
                                           invoice_no=thing.invoice_no))
        else:
            r, q = thing
            balance = None if balance is None or partial else balance - q
            out.entries.append(LedgerEntry(at, "sale", q, balance, settlement_id=r.settlement_id,
                                           this=r.settlement_id == s.settlement_id))
    return out


# -- 追溯码 ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CodeLine:
    line_no: int
    item_code: str
    item_name: str
    quantity: str
    codes: list[str]
    reused: set[str]


def code_lines(session: Session, view: FlagView, seen: dict[str, Any]) -> list[CodeLine]:
    """This settlement's bill lines with the traceability codes sold on each (the reused ones marked)."""
    s = view.settlement
    rows = session.execute(select(SoldTraceCode.line_no, SoldTraceCode.code, SoldTraceCode.item_code)
                           .where(SoldTraceCode.settlement_id == s.settlement_id)
                           .order_by(SoldTraceCode.line_no, SoldTraceCode.code).limit(MAX_CODE_ROWS)).all()
    reused = {str(c) for c in seen.get("reused_codes") or [] if isinstance(c, str)}
    lines = _lines(s)
    by_line: dict[int, list[str]] = {}
    items: dict[int, str] = {}
    for line_no, code, item_code in rows:
        by_line.setdefault(line_no, []).append(code)
        items[line_no] = item_code
    out = []
    for line_no, codes in sorted(by_line.items()):
        line = lines[line_no - 1] if 0 < line_no <= len(lines) else {}
        out.append(CodeLine(line_no, items[line_no], str(line.get("item_name") or ""),
                            str(line.get("quantity") or ""), codes, reused & set(codes)))
    return out


def this_codes(lines: list[CodeLine]) -> list[str]:
    return [c for line in lines for c in line.codes]
