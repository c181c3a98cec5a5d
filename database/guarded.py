"""Saving outcomes so that one settlement the database refuses never aborts the run.

Ingest already rejects what the schema cannot hold (lengths, numeric precision, NUL bytes, dates);
this is the last line: results are written in chunks, each under a SAVEPOINT, and a chunk the
database refuses is written again one settlement at a time, so only the refused settlement is lost
to the run, recorded as a rejected row with its line (and the exception's type, never its message,
which may quote values). Lost connections and the like still raise: they are not a row's fault.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from ingest.reasons import row_reason
from database import repository
from rxaudit.domain import CheckResult, RejectedRow

CHUNK = 500


def row_fault(exc: Exception) -> bool:
    """True when ``exc`` is about the values of a row (not the connection or the schema)."""
    if isinstance(exc, DBAPIError):
        return isinstance(exc, (DataError, IntegrityError))
    return isinstance(exc, (SQLAlchemyError, ValueError, ArithmeticError))


def _save(session: Session, results: Sequence[CheckResult], run_id: int, keep_faces: bool) -> None:
    with session.begin_nested():
        repository.save_results(session, run_id=run_id, results=results, keep_faces=keep_faces)
        session.flush()


def save_results(session: Session, *, run_id: int, results: Sequence[CheckResult], keep_faces: bool,
                 source: str, chunk: int = CHUNK) -> tuple[list[CheckResult], list[RejectedRow]]:
    """Save every result it can; returns (saved, rejected rows for those the database refused)."""
    saved: list[CheckResult] = []
    failed: list[RejectedRow] = []
    for start in range(0, len(results), chunk):
        part = results[start:start + chunk]
        try:
            _save(session, part, run_id, keep_faces)
            saved.extend(part)
            continue
        except Exception as exc:  # noqa: BLE001 - sorted by row_fault, re-raised otherwise
            if not row_fault(exc):
                raise
        for result in part:
            try:
                _save(session, [result], run_id, keep_faces)
            except Exception as exc:  # noqa: BLE001
                if not row_fault(exc):
                    raise
                failed.append(RejectedRow(
                    source=source, line=result.settlement.line or 0,
                    reason=row_reason(None, f"settlement could not be saved ({type(exc).__name__})")))
            else:
                saved.append(result)
    return saved, failed
