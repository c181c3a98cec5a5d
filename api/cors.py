"""CORS for the wall API and evidence, from the ``cors_origins`` allowlist (off when empty).

Only listed origins get ``Access-Control-Allow-Origin``; credentials (cookies) are never allowed
cross-origin: a page on another origin authenticates with an API key (``Authorization``) or a
stream token (``?token=``), so a signed-in inspector's cookie cannot be used by another site.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from rxaudit.settings import Settings


def add_cors(app: FastAPI, settings: Settings) -> None:
    if not settings.cors_origins:
        return
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                       allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "Range"],
                       expose_headers=["X-Swipe-Offset", "Content-Range", "Accept-Ranges", "Content-Length"],
                       max_age=600)
