"""How ``rxaudit serve`` runs the app under uvicorn.

``proxy_headers=False``: uvicorn would otherwise take the client address from ``X-Forwarded-For``
on any connection from 127.0.0.1, so anyone on the host could pick the address that sign-in
failures count against. The app believes that header only from ``settings.trusted_proxies``
(``api.ratelimit.client_address``).

Uvicorn's log (the access log above all) never shows a credential: stream tokens in a query string
(``?token=…``, what ``<img>`` and ``<video>`` on another origin send, whatever percent-encoding its
name wears: ``?tok%65n=``) become ``token=***``, an API key or stream token is masked under any
name or none, and so is anything written as ``Authorization: …`` or ``Bearer …``.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

MASK = "***"
# a query parameter (name=value), up to the next & ; # space or quote; its name may be percent-encoded
QUERY_PARAM = re.compile(r"""(?P<lead>^|[?&;\s])(?P<name>[\w.%+-]+)=(?P<value>[^&;#\s"']*)""")
# what our credentials look like whatever carries them: an API key (rxa_ + token_urlsafe(32)) and a
# stream token (base64url payload . 43-character base64url HMAC-SHA256)
OUR_SECRET = re.compile(r"rxa_[\w-]{16,}|(?<![\w.-])[\w-]{16,}\.[\w-]{43}(?![\w-])")
# an Authorization header's value (its scheme word and credential), or a bare "Bearer <credential>"
AUTHORIZATION = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:\w+\s+)?[^\s\"',&]+")
BEARER = re.compile(r"(?i)(\bbearer\s+)[^\s\"',&]+")


def _decoded(text: str, rounds: int = 3) -> str:
    """``text`` percent-decoded until it no longer changes (at most ``rounds`` times)."""
    for _ in range(rounds):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def _mask_param(match: re.Match[str]) -> str:
    """A parameter whose decoded name ends in "token" (token=, access_token=, tok%65n=), or whose
    decoded value is one of our credentials, with its value masked; any other kept as it was."""
    name, value = _decoded(match["name"]).lower(), _decoded(match["value"])
    if name.endswith("token") or OUR_SECRET.search(value):
        return f"{match['lead']}{match['name']}={MASK}"
    return match[0]


def mask_secrets(text: str) -> str:
    """``text`` with token query values, our keys and tokens wherever they stand, and Authorization
    credentials replaced by ``***``."""
    text = QUERY_PARAM.sub(_mask_param, text)
    text = OUR_SECRET.sub(MASK, text)
    for pattern in (AUTHORIZATION, BEARER):
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
