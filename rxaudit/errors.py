"""The one exception tree of rxaudit.

Every error the application raises on purpose derives from :class:`RxauditError`. The CLI turns them
into a one-line message and an exit code (``EXIT_CODES``); the HTTP layer maps them to status codes
(``HTTP_STATUS``). Both tables live here so the mapping is defined in exactly one place.

    RxauditError
    ├── ConfigError          bad settings or cameras.yaml (names the bad key)
    ├── InputError           an input file that cannot be used at all (missing CSV, wrong header)
    ├── ModelError           a model file missing, corrupt, or failing to load
    ├── FootageError         a clip missing or unreadable (becomes an *unverifiable* outcome)
    │   ├── FootageMissing
    │   └── FootageUnreadable
    ├── StoreError           a path that escapes the video store, an unknown store URL scheme
    ├── NotFound             an object that does not exist (or that the caller may not see)
    ├── AuthError            missing or wrong credentials
    ├── Forbidden            signed in, but the role may not do this (CSRF failures too)
    └── RateLimited          too many attempts (sign-in)
"""

from __future__ import annotations


class RxauditError(Exception):
    """Base of every error rxaudit raises on purpose."""


class ConfigError(RxauditError):
    """Settings or camera configuration are invalid."""


class InputError(RxauditError):
    """An input file cannot be used at all."""


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
}

HTTP_STATUS: dict[type[RxauditError], int] = {
    ConfigError: 500,
    InputError: 422,
    ModelError: 503,
    StoreError: 400,
    FootageError: 404,
    NotFound: 404,
    AuthError: 401,
    Forbidden: 403,
    RateLimited: 429,
}


def lookup(table: dict[type[RxauditError], int], exc: RxauditError, default: int) -> int:
    """The code for ``exc`` from one of the tables above, walking up its class hierarchy."""
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return default
