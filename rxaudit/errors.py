"""The one exception tree of rxaudit.

Every error the application raises on purpose derives from :class:`RxauditError`. The CLI turns them
into a one-line message and an exit code (``EXIT_CODES``); the HTTP layer maps them to status codes
(``HTTP_STATUS``). Both tables live here so the mapping is defined in exactly one place.

    RxauditError
    ├── ConfigError          bad settings or cameras.yaml (names the bad key)
    ├── InputError           an input file that cannot be used at all (missing CSV, wrong header)
    │   └── TooLarge         an input over its bound (a request body, a gzip bomb, too many records)
    ├── ModelError           a model file missing, corrupt, or failing to load
    ├── FootageError         a clip missing or unreadable (becomes an *unverifiable* outcome)
    │   ├── FootageMissing
    │   └── FootageUnreadable
    ├── StoreError           a path that escapes the video store, an unknown store URL scheme
    ├── NotFound             an object that does not exist (or that the caller may not see)
    ├── AuthError            missing or wrong credentials
    ├── Forbidden            signed in, but the role may not do this (CSRF failures too)
    ├── RateLimited          too many attempts (sign-in)
    ├── Busy                 the database is held by another writer (an audit); try again shortly
    ├── ExportTimeout        a case file not built within its deadline (export fewer flags)
    └── ExportsBusy          as many case files are being built as the server allows; try again shortly

Database drivers' own errors are not in the tree: ``database_busy`` says which of them mean "held by
another writer, retry" (SQLite's locked/busy, PostgreSQL's lock timeout, serialization failure,
deadlock), and the HTTP layer answers those as :class:`Busy`.
"""

from __future__ import annotations

import sqlite3


class RxauditError(Exception):
    """Base of every error rxaudit raises on purpose."""


class ConfigError(RxauditError):
    """Settings or camera configuration are invalid."""


class InputError(RxauditError):
    """An input file cannot be used at all."""


class TooLarge(InputError):
    """An input is larger than its bound allows; none of it was used."""


class ModelError(RxauditError):
    """A model file is missing, corrupt or cannot be run."""


class FootageError(RxauditError):
    """Footage for a settlement cannot be read; the settlement becomes unverifiable."""


class FootageMissing(FootageError):
    """No segment covers the time asked for."""


class FootageUnreadable(FootageError):
    """A segment exists but cannot be decoded (corrupt, truncated, wrong format)."""


class StoreError(RxauditError):
    """A store path escapes the store root, or a store URL cannot be handled."""


class NotFound(RxauditError):
    """The object does not exist or the caller may not see it."""


class AuthError(RxauditError):
    """Missing or invalid credentials."""


class Forbidden(RxauditError):
    """The caller is known but may not do this."""


class RateLimited(RxauditError):
    """Too many attempts; try again later."""


class Busy(RxauditError):
    """The database is held by another writer; the request changed nothing and may be sent again."""

    retry_after_s = 5  # the server's SQLite busy timeout: about how long an audit's write step holds the lock


class ExportTimeout(RxauditError):
    """A case file was not built within its deadline; nothing of it was kept."""


class ExportsBusy(RxauditError):
    """As many case files are being built at once as one server process allows; nothing was built."""

    retry_after_s = 10  # about how long a typical case file takes to build


EXIT_CODES: dict[type[RxauditError], int] = {
    ConfigError: 3,
    InputError: 4,
    ModelError: 5,
    StoreError: 6,
    FootageError: 7,
    NotFound: 8,
    AuthError: 9,
    Forbidden: 9,
    RateLimited: 9,
    Busy: 10,
    ExportTimeout: 11,
    ExportsBusy: 10,
}

HTTP_STATUS: dict[type[RxauditError], int] = {
    ConfigError: 500,
    InputError: 422,
    TooLarge: 413,
    ModelError: 503,
    StoreError: 400,
    FootageError: 404,
    NotFound: 404,
    AuthError: 401,
    Forbidden: 403,
    RateLimited: 429,
    Busy: 503,
    ExportTimeout: 503,
    ExportsBusy: 503,
}

# PostgreSQL: lock_not_available (lock_timeout), serialization_failure, deadlock_detected; and the
# server going away under a request (a restart, a failover): admin_shutdown, crash_shutdown,
# cannot_connect_now (class 08, connection exceptions, is matched by its prefix)
BUSY_SQLSTATES = frozenset({"55P03", "40001", "40P01", "57P01", "57P02", "57P03"})
CONNECTION_SQLSTATE_CLASS = "08"
BUSY_SQLITE = ("database is locked", "database table is locked", "database is busy")


def database_busy(exc: BaseException) -> bool:
    """Whether a driver's error (or SQLAlchemy's error wrapping it, ``.orig``) means that another
    writer holds the database, or that the server went away under the request (restart, failover), so
    that the same request may succeed when sent again (a 503 with Retry-After, never a 500)."""
    if getattr(exc, "connection_invalidated", False):  # SQLAlchemy saw the connection drop
        return True
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in BUSY_SQLSTATES or (state or "").startswith(CONNECTION_SQLSTATE_CLASS):
        return True
    if type(orig).__module__.startswith("psycopg") and type(orig).__name__ == "OperationalError" and not state:
        return True  # no connection could be made (the server restarting): the same request may succeed
    return isinstance(orig, sqlite3.OperationalError) and str(orig).lower().startswith(BUSY_SQLITE)


def lookup(table: dict[type[RxauditError], int], exc: RxauditError, default: int) -> int:
    """The code for ``exc`` from one of the tables above, walking up its class hierarchy."""
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return default
