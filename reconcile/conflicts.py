"""Settlement ids seen again: the same content is the same settlement, other content is a conflict.

HIS serial numbers are local to each system and each pharmacy controls its export, so an id that is
stored already can come back with another pharmacy, time or amount, by accident or on purpose. Such
a row is rejected (file, line, the run that stored the id, which fields differ, never a value) and
the stored settlement, its checks and its reviewed flags stay as they were; a row whose content
equals the stored one is audited again as before (idempotent).

What is compared (:class:`Stored`, a cheap fingerprint): pharmacy, counter, time (as an instant),
card hash, amount and the item lines (code, name, quantity, unit price; as numbers, in any order).
Not compared:

* ``extra``, the export's other columns (operator, remarks, …): no rule reads them, and a re-export
  that adds, renames or fills one must not turn a month of settlements into conflicts;
* an item line's category: it comes from the item catalogue of the day, not from the log.

The functions here are pure; ``database.conflicts`` reads the stored contents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from ingest.reasons import row_reason
from rxaudit.domain import RejectedRow, Settlement, SettlementItem

FIELDS = ("pharmacy_id", "counter_id", "settled_at", "card_hash", "amount", "items")
_SCALARS = FIELDS[:-1]


class Stored(NamedTuple):
    """A stored settlement's compared content, a cheap fingerprint: its ``settlements`` columns, the
    item lines as written there (``[{"item_code", "item_name", "quantity", "unit_price", ...}]``).
    Times and amounts compare as values (an instant, a number), whatever their offset or scale."""

    pharmacy_id: str
    counter_id: str
    settled_at: datetime
    card_hash: str
    amount: Decimal
    lines: Sequence[Mapping[str, str]]

    @classmethod
    def from_row(cls, pharmacy_id: str, counter_id: str, settled_at: datetime, card_hash: str, amount: Decimal,
                 items: Mapping[str, Any] | None) -> Stored:
        return cls(pharmacy_id, counter_id, settled_at, card_hash, amount, (items or {}).get("lines", ()))

    @classmethod
    def of(cls, s: Settlement) -> Stored:
        """As it would be stored (for tests and callers holding settlements)."""
        return cls(s.pharmacy_id, s.counter_id, s.settled_at, s.card_hash, s.amount, [
            {"item_code": i.item_code, "item_name": i.item_name, "quantity": str(i.quantity),
             "unit_price": str(i.unit_price)} for i in s.items])


def _written(line: Mapping[str, str]) -> tuple[str, str, str, str]:
    return line["item_code"], line["item_name"], line["quantity"], line["unit_price"]


def _as_numbers(lines: Iterable[tuple[str, str, Any, Any]]) -> list[tuple[str, str, Decimal, Decimal]]:
    """``1``, ``1.0`` and ``1.00`` alike, in any order."""
    return sorted((code, name, Decimal(q).normalize(), Decimal(p).normalize()) for code, name, q, p in lines)


def same_lines(items: Sequence[SettlementItem], stored: Sequence[Mapping[str, str]]) -> bool:
    """The same item lines: the same texts in the same order (the usual case, checked first and
    cheaply), else the same numbers in any order."""
    if len(items) != len(stored):
        return False
    if all((i.item_code, i.item_name, str(i.quantity), str(i.unit_price)) == _written(line)
           for i, line in zip(items, stored)):
        return True
    return _as_numbers((i.item_code, i.item_name, i.quantity, i.unit_price) for i in items) == _as_numbers(
        _written(line) for line in stored)


def differing(incoming: Settlement, stored: Stored) -> tuple[str, ...]:
    """The names of the fields that differ (none: the same settlement)."""
    names = [name for name in _SCALARS if getattr(incoming, name) != getattr(stored, name)]
    if not same_lines(incoming.items, stored.lines):
        names.append("items")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Conflict:
    """A row whose settlement id is stored with other content; ``fields``: the names that differ."""

    settlement_id: str
    source: str
    line: int
    stored_run_id: int | None
    fields: tuple[str, ...]

    def rejected(self) -> RejectedRow:
        return RejectedRow(source=self.source, line=self.line, reason=conflict_reason(self))


def conflict_reason(conflict: Conflict) -> str:
    """Names the conflict, the stored run and the differing fields; never a value."""
    run = f"run {conflict.stored_run_id}" if conflict.stored_run_id is not None else "an earlier run"
    return row_reason("settlement_id", f"conflicts with the settlement stored by {run} "
                                       f"(different {', '.join(conflict.fields)}): the stored one is kept")


def screen(settlements: Iterable[Settlement], stored: Mapping[str, Stored], *,
           source: str) -> tuple[list[Settlement], list[Conflict]]:
    """The settlements to audit (new ids, and stored ids with the same content) and the conflicts
    (stored ids with other content; ``stored_run_id`` left None for the caller), each in the order given."""
    kept: list[Settlement] = []
    conflicts: list[Conflict] = []
    for s in settlements:
        known = stored.get(s.settlement_id)
        changed = differing(s, known) if known is not None else ()
        if changed:
            conflicts.append(Conflict(s.settlement_id, source, s.line or 0, None, changed))
        else:
            kept.append(s)
    return kept, conflicts


def conflict_ids(conflicts: Sequence[Conflict]) -> set[str]:
    return {c.settlement_id for c in conflicts}
