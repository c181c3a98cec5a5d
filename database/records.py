"""The records side in the database: purchases, stock counts, sold traceability codes, pharmacy
coordinates. Keyword-only functions over a Session, idempotent like the rest of the repository."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from rxaudit.bounds import EVIDENCE_LIST_MAX, REASON_MAX, clip_text, listing
from database.models import (CheckRow, FlagRow, Pharmacy, PurchaseRow, SettlementRow, SoldTraceCode,
                               StockCountRow, utcnow)
from database import bulk
from database.repository import among, chunks
from rxaudit.domain import CheckStatus, FlagKind, ReviewStatus, Settlement
from rxaudit.records import CardSale, CodeSale, Location, Purchase, Records, SoldCodes, StockCount

CHUNK = 500  # values per IN (...) list: well under every backend's parameter limit


def locations(session: Session) -> dict[str, Location]:
    rows = session.execute(select(Pharmacy.pharmacy_id, Pharmacy.lat, Pharmacy.lon).where(
        Pharmacy.lat.is_not(None), Pharmacy.lon.is_not(None)))
    return {pid: Location(lat, lon) for pid, lat, lon in rows}


def earlier_codes(session: Session, *, settlements: Iterable[Settlement],
                  sold: SoldCodes | None = None) -> dict[str, tuple[CodeSale, ...]]:
    """Earlier sales (other settlements) of the traceability codes these settlements carry
    (``sold``: the batch's codes, when its lines do not carry them)."""
    if session.scalar(select(SoldTraceCode.code).limit(1)) is None:
        return {}  # nothing sold before (a first audit)
    batch = {s.settlement_id for s in settlements}
    sold = sold if sold is not None else SoldCodes.of(settlements)
    found: dict[str, list[CodeSale]] = defaultdict(list)
    for chunk in _batched(sold.unique_codes(), 2000):
        for code, sid, item, pharmacy, at in session.execute(
                select(SoldTraceCode.code, SoldTraceCode.settlement_id, SoldTraceCode.item_code,
                       SettlementRow.pharmacy_id, SettlementRow.settled_at)
                .join(SettlementRow, SettlementRow.settlement_id == SoldTraceCode.settlement_id)
                .where(SoldTraceCode.code.in_(chunk))):
            if sid not in batch:
                found[code].append(CodeSale(code, sid, pharmacy, item, at))
    return {code: tuple(sales) for code, sales in found.items()}


def earlier_card_sales(session: Session, *, settlements: Sequence[Settlement],
                       horizon_s: float) -> dict[str, tuple[CardSale, ...]]:
    """Settlements stored by earlier audits (not in this batch) of the batch's cards, within
    ``horizon_s`` of the batch's time span: what ``card_conflict`` compares across audits."""
    if not settlements or session.scalar(select(SettlementRow.settlement_id).limit(1)) is None:
        return {}
    start = min(s.settled_at for s in settlements) - timedelta(seconds=horizon_s)
    end = max(s.settled_at for s in settlements) + timedelta(seconds=horizon_s)
    batch = {s.settlement_id for s in settlements}
    found: dict[str, list[CardSale]] = defaultdict(list)
    for chunk in _batched(dict.fromkeys(s.card_hash for s in settlements), 2000):
        for sid, card, pharmacy, counter, at in session.execute(
                select(SettlementRow.settlement_id, SettlementRow.card_hash, SettlementRow.pharmacy_id,
                       SettlementRow.counter_id, SettlementRow.settled_at)
                .where(SettlementRow.card_hash.in_(chunk), SettlementRow.settled_at >= start,
                       SettlementRow.settled_at <= end)):
            if sid not in batch:
                found[card].append(CardSale(sid, card, pharmacy, counter, at))
    return {card: tuple(sales) for card, sales in found.items()}


def _batched(values: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_records(session: Session, *, settlements: Sequence[Settlement], purchases: Sequence[Purchase] = (),
                 stock_counts: Sequence[StockCount] = (),
                 file_locations: dict[str, Location] | None = None, sold_codes: SoldCodes | None = None
                 ) -> Records:
    """What the records rules need: the given purchases and counts, the pharmacies' coordinates
    (the registry's, overridden by those given with the log), the batch's codes when its lines do
    not carry them (``sold_codes``) and earlier sales of the batch's codes."""
    where = locations(session)
    where.update(file_locations or {})
    return Records(purchases=tuple(purchases), stock_counts=tuple(stock_counts), locations=where,
                   earlier_codes=earlier_codes(session, settlements=settlements, sold=sold_codes),
                   sold_codes=sold_codes)


PURCHASE_KEY = ("pharmacy_id", "item_code", "received_at", "invoice_no")


def save_purchases(session: Session, *, purchases: Sequence[Purchase]) -> int:
    """Insert the delivery lines not stored yet (key: pharmacy, item, time, invoice; the first of a
    key given twice); returns how many."""
    new: dict[tuple, dict] = {}
    for p in purchases:
        new.setdefault((p.pharmacy_id, p.item_code, p.received_at, p.invoice_no), {
            "pharmacy_id": p.pharmacy_id, "item_code": p.item_code, "quantity": p.quantity,
            "received_at": p.received_at, "supplier": p.supplier, "invoice_no": p.invoice_no})
    table = PurchaseRow.__table__
    if bulk.wanted(session, len(new)):  # the stored ones left out by the database itself
        rows = list(new.values())
        staged = bulk.stage(session, table, list(rows[0]), rows)
        stored = select(table.c.id).where(*(table.c[k] == staged.c[k] for k in PURCHASE_KEY)).exists()
        return session.execute(insert(table).from_select(
            list(rows[0]), bulk.source(staged, table, list(rows[0])).where(~stored))).rowcount
    pharmacies = sorted({p for p, _, _, _ in new})
    for chunk in chunks(pharmacies, CHUNK):
        for key in session.execute(select(*(table.c[k] for k in PURCHASE_KEY)).where(
                table.c.pharmacy_id.in_(chunk))):
            new.pop(tuple(key), None)
    rows = list(new.values())
    for chunk in chunks(rows, 5000):
        session.execute(insert(table), list(chunk))
    return len(rows)


def save_stock_counts(session: Session, *, counts: Sequence[StockCount]) -> int:
    """Upsert counts on (pharmacy, item, counted_at): a corrected count replaces the stored one.
    Returns how many rows were written (new or changed)."""
    latest = {(c.pharmacy_id, c.item_code, c.counted_at): c.quantity for c in counts}
    if bulk.wanted(session, len(latest)):
        return _upsert_counts(session, [{"pharmacy_id": p, "item_code": i, "counted_at": t, "quantity": q}
                                        for (p, i, t), q in latest.items()])
    stored: dict[tuple, object] = {}
    for chunk in chunks(sorted({p for p, _, _ in latest}), CHUNK):
        for pharmacy, item, at, quantity in session.execute(select(
                StockCountRow.pharmacy_id, StockCountRow.item_code, StockCountRow.counted_at,
                StockCountRow.quantity).where(StockCountRow.pharmacy_id.in_(chunk))):
            stored[(pharmacy, item, at)] = quantity
    changed = [key for key, quantity in latest.items() if key in stored and stored[key] != quantity]
    for pharmacy, item, at in changed:
        session.execute(update(StockCountRow).where(
            StockCountRow.pharmacy_id == pharmacy, StockCountRow.item_code == item,
            StockCountRow.counted_at == at).values(quantity=latest[(pharmacy, item, at)]))
    rows = [{"pharmacy_id": p, "item_code": i, "counted_at": t, "quantity": q}
            for (p, i, t), q in latest.items() if (p, i, t) not in stored]
    for chunk in chunks(rows, 5000):
        session.execute(insert(StockCountRow.__table__), list(chunk))
    return len(rows) + len(changed)


def _upsert_counts(session: Session, rows: list[dict]) -> int:
    """PostgreSQL: the counts through COPY, one upsert that rewrites only a changed quantity (its
    row count: new and changed rows)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    table = StockCountRow.__table__
    columns = list(rows[0])
    staged = bulk.stage(session, table, columns, rows)
    stmt = pg_insert(table).from_select(columns, bulk.source(staged, table, columns))
    return session.execute(stmt.on_conflict_do_update(
        index_elements=["pharmacy_id", "item_code", "counted_at"], set_={"quantity": stmt.excluded.quantity},
        where=table.c.quantity.is_distinct_from(stmt.excluded.quantity))).rowcount


def save_trace_codes(session: Session, *, settlements: Sequence[Settlement],
                     sold: SoldCodes | None = None, big: bool = False) -> int:
    """Store the codes each settlement line carried (replacing what an earlier audit stored for these
    settlements), a few thousand rows per statement. The settlements must be saved already.
    ``sold``: the batch's codes, when its lines do not carry them. ``big``: a run at least as big as
    what the database holds: on PostgreSQL the table's foreign key is checked once, by one join,
    after the rows are in (:func:`database.bulk.foreign_keys_suspended`), not row by row; the codes
    and the settlements are then locked until the caller's transaction ends (the audit's last
    commit: readers of settlements wait those seconds)."""
    ids = [s.settlement_id for s in settlements]
    if session.scalar(select(SoldTraceCode.code).limit(1)) is not None:
        for chunk in chunks(ids):
            session.execute(delete(SoldTraceCode).where(among(session, SoldTraceCode.settlement_id, chunk)))
    sold = sold if sold is not None else SoldCodes.of(settlements)
    write = _code_writer(session)
    rows: list[tuple[str, str, int, str]] = []
    stored = 0
    with bulk.foreign_keys_suspended(session, SoldTraceCode.__table__, enabled=big):
        for block in sold.code_rows():  # a code twice on one line is stored once
            rows.extend(block)
            if len(rows) >= CODE_ROWS:
                write(rows)
                stored, rows = stored + len(rows), []
        if rows:
            write(rows)
    return stored + len(rows)


CODE_COLUMNS = ("code", "settlement_id", "line_no", "item_code")
CODE_ROWS = 50_000  # rows per write (one COPY on PostgreSQL, an executemany on SQLite)


def _code_writer(session: Session):
    """Inserts rows of :data:`CODE_COLUMNS`. On SQLite straight through the driver's executemany (a
    month is millions of rows, and the SQL layer's per-row work costs more than SQLite's); on
    PostgreSQL through COPY into the table (:mod:`database.bulk`); elsewhere through SQLAlchemy."""
    table = SoldTraceCode.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        sql = (f"INSERT INTO {table.name} ({', '.join(CODE_COLUMNS)}) "
               f"VALUES ({', '.join('?' for _ in CODE_COLUMNS)})")
        connection = session.connection()
        return lambda rows: connection.exec_driver_sql(sql, rows)
    if dialect == "postgresql":
        columns = [table.c[name] for name in CODE_COLUMNS]
        return lambda rows: bulk.copy_rows(session, table, columns, rows)
    statement = insert(table)
    return lambda rows: session.execute(statement, [dict(zip(CODE_COLUMNS, row)) for row in rows])


def flag_earlier_reuse(session: Session, *, settlements: Sequence[Settlement],
                       earlier: dict[str, tuple[CodeSale, ...]], sold: SoldCodes | None = None) -> int:
    """A code sold now that an earlier audit stored: flag the earlier settlement too (trace_code_reuse,
    linked to the later ones), keeping a verdict already given. Returns how many were flagged.
    ``sold``: the batch's codes, when its lines do not carry them."""
    links: dict[str, set[str]] = defaultdict(set)
    codes: dict[str, set[str]] = defaultdict(set)
    if earlier:
        sold = sold if sold is not None else SoldCodes.of(settlements)
        batch = {s.settlement_id for s in settlements}
        for code, sales in earlier.items():
            for position in sold.positions(code):
                sid = sold.sids[sold.line_of(position)]
                for e in sales:
                    if e.settlement_id not in batch:
                        links[e.settlement_id].add(sid)
                        codes[e.settlement_id].add(code)
    _flag_earlier(session, kind=FlagKind.TRACE_CODE_REUSE, score=0.9, links=links,
                  seen={sid: {"reused_codes": sorted(codes[sid])[:EVIDENCE_LIST_MAX], "codes_total": len(codes[sid]),
                              "partners_total": len(links[sid])} for sid in links},
                  why="a traceability code sold here was sold again in")
    return len(links)


def _flag_earlier(session: Session, *, kind: FlagKind, score: float, links: dict[str, set[str]],
                  seen: dict[str, dict], why: str) -> None:
    """Flag settlements an earlier audit stored (``links``: earlier id -> this batch's ids it is
    linked to), keeping a verdict already given; an open flag gains the new links. What a flag holds
    stays bounded (``rxaudit.bounds``): the first ids, a reason of at most REASON_MAX characters, at
    most EVIDENCE_LIST_MAX evidence items however many audits add to it."""
    for sid, later in sorted(links.items()):
        settled = session.get(SettlementRow, sid)
        if settled is None:
            continue
        blank = {"t": settled.settled_at.isoformat(), "keyframe": None, "clip": None, "boxes": []}
        reason = clip_text(f"{why} {listing(sorted(later), len(later), EVIDENCE_LIST_MAX)}", REASON_MAX)
        row = session.scalar(select(FlagRow).where(FlagRow.settlement_id == sid, FlagRow.kind == str(kind)))
        evidence_seen = {**seen.get(sid, {}), "linked_settlements": sorted(later)[:EVIDENCE_LIST_MAX]}
        if row is None:
            session.add(FlagRow(settlement_id=sid, kind=str(kind), score=score, reason=reason,
                                evidence={"items": [{**blank, "seen": evidence_seen}]},
                                review_status=str(ReviewStatus.OPEN)))
        elif row.review_status == ReviewStatus.OPEN and not _linked_already(row, later, evidence_seen):
            items = row.evidence.get("items", [])
            if len(items) >= EVIDENCE_LIST_MAX:  # the rule's own first item, then the latest audits
                items = [items[0], *items[len(items) - EVIDENCE_LIST_MAX + 2:]]
            row.reason = clip_text(f"{row.reason} | {reason}", REASON_MAX)
            row.evidence = {"items": [*items, {**blank, "seen": evidence_seen}]}
            row.updated_at = utcnow()
        check = session.get(CheckRow, sid)
        if check is not None and check.status == CheckStatus.CLEAN:
            check.status = str(CheckStatus.FLAGGED)


def _linked_already(row: FlagRow, later: set[str], seen: dict) -> bool:
    """The flag says this already: the same finding (a re-audit), or every link listed."""
    listed: set[str] = set()
    for item in row.evidence.get("items", []):
        if item.get("seen") == seen:
            return True
        listed.update(item.get("seen", {}).get("linked_settlements", []))
    return later <= listed


def flag_earlier_conflicts(session: Session, *, flagged: Iterable[tuple[str, Sequence[dict]]]) -> int:
    """The earlier settlements this batch's ``card_conflict`` flags link to (``flagged``: a batch
    settlement and its flag's ``conflicts``) are flagged too, linked back. Returns how many."""
    links: dict[str, set[str]] = defaultdict(set)
    for sid, conflicts in flagged:
        for c in conflicts:
            if c.get("earlier_audit"):
                links[c["settlement_id"]].add(sid)
    _flag_earlier(session, kind=FlagKind.CARD_CONFLICT, score=0.85, links=links, seen={},
                  why="the same card was settled too soon after or before, at")
    return len(links)


def save_records(session: Session, *, settlements: Sequence[Settlement], records: Records,
                 big: bool = False) -> None:
    """After the settlements are saved: their codes, this audit's purchases and counts, and the
    trace_code_reuse flags of earlier settlements that sold the same codes (``records.earlier_codes``).
    ``big``: see :func:`save_trace_codes`."""
    save_trace_codes(session, settlements=settlements, sold=records.sold_codes, big=big)
    save_purchases(session, purchases=records.purchases)
    save_stock_counts(session, counts=records.stock_counts)
    flag_earlier_reuse(session, settlements=settlements, earlier=records.earlier_codes, sold=records.sold_codes)
