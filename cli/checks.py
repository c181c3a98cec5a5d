"""Checks the CLI makes before any work, and the line that accounts for every row of the log."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rxaudit.domain import RejectedRow
from rxaudit.errors import ConfigError, InputError


def _folder_problem(path: Path) -> str | None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return f"folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable"
    if path.is_dir():
        return f"{path} is a folder, not a file"
    return None


def check_output_file(path: Path | None, option: str = "--out") -> None:
    """InputError now, rather than a traceback after the audit, if ``path`` cannot be written."""
    if path is None:
        return
    problem = _folder_problem(Path(path))
    if problem:
        raise InputError(f"{option} {path}: {problem}")


def check_db_url(url: str) -> None:
    """A SQLite file in a missing (or read-only) folder is a ConfigError before any work."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"db_url: {exc}") from None
    if not parsed.get_backend_name().startswith("sqlite"):
        return
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    problem = _folder_problem(Path(database))
    if problem:
        raise ConfigError(f"db_url (--db): {problem}")


def rows_line(summary: Mapping[str, Any], rejected: Iterable[RejectedRow], log: Path) -> str:
    """``rows read N = A audited + R rejected``: every record of the log is one or the other (a
    batch with ``--date`` leaves the settlements of other days aside)."""
    read, audited = summary["rows_read"], summary["audited"]
    bad = sum(1 for r in rejected if r.source == Path(log).name)
    line = f"rows read {read} = {audited} audited + {bad} rejected"
    rest = read - audited - bad
    if rest:
        line += f" + {rest} of other days" if rest > 0 else f" ({-rest} more than read!)"
    return line
