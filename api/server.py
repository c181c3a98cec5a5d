"""How ``rxaudit serve`` runs the app under uvicorn.

``proxy_headers=False``: uvicorn would otherwise take the client address from ``X-Forwarded-For``
on any connection from 127.0.0.1, so anyone on the host could pick the address that sign-in
failures count against. The app believes that header only from ``settings.trusted_proxies``
(``api.ratelimit.client_address``).
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


def server_config(app: FastAPI, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    # open SSE streams never end by themselves: without a grace limit Ctrl+C would wait forever
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=False,
                          server_header=False, timeout_graceful_shutdown=5)


def serve(app: FastAPI, *, host: str, port: int) -> None:
    uvicorn.Server(server_config(app, host=host, port=port)).run()
