"""How ``rxaudit serve`` runs the app under uvicorn.

``proxy_headers=False``: uvicorn would otherwise take the client address from ``X-Forwarded-For``
on any connection from 127.0.0.1, so anyone on the host could pick the address that sign-in
failures count against. The app believes that header only from ``settings.trusted_proxies``
(``api.ratelimit.client_address``).

Uvicorn's log (the access log above all) never shows a credential: stream tokens in a query string
(``?token=…``, what ``<img>`` and ``<video>`` on another origin send) become ``token=***``, and so
does anything written as ``Authorization: …`` or ``Bearer …``.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

MASK = "***"
# a query parameter whose name ends in "token" (token=, access_token=), up to the next & # space or quote
TOKEN_PARAM = re.compile(r"(?i)((?:^|[?&;\s])[\w.-]*token=)[^&#\s\"']*")
# an Authorization header's value (its scheme word and credential), or a bare "Bearer <credential>"
AUTHORIZATION = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:\w+\s+)?[^\s\"',&]+")
BEARER = re.compile(r"(?i)(\bbearer\s+)[^\s\"',&]+")


def mask_secrets(text: str) -> str:
    """``text`` with token query values and Authorization credentials replaced by ``***``."""
    for pattern in (TOKEN_PARAM, AUTHORIZATION, BEARER):
        text = pattern.sub(r"\1" + MASK, text)
    return text


class MaskSecrets(logging.Filter):
    """Masks credentials in a record's message and in its arguments (uvicorn's access records keep
    the path with its query string as an argument, and its formatter reads the arguments directly)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask_secrets(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: mask_secrets(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def log_config() -> dict[str, Any]:
    """Uvicorn's own logging configuration with :class:`MaskSecrets` on its loggers and handlers."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"mask_secrets": {"()": MaskSecrets}}
    for section in ("handlers", "loggers"):
        for entry in config[section].values():
            entry["filters"] = ["mask_secrets"]
    return config


def server_config(app: FastAPI, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    # open SSE streams never end by themselves: without a grace limit Ctrl+C would wait forever
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=False,
                          server_header=False, timeout_graceful_shutdown=5, log_config=log_config())


def serve(app: FastAPI, *, host: str, port: int) -> None:
    uvicorn.Server(server_config(app, host=host, port=port)).run()
