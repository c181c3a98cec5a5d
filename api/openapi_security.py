"""The OpenAPI document with its security schemes: an API key (``Authorization: Bearer``), the
session cookie, and a stream token (``?token=``, only where a route takes one)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.deps import COOKIE

SCHEMES = {
    "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key (rxaudit apikey create)"},
    "session": {"type": "apiKey", "in": "cookie", "name": COOKIE,
                "description": "a signed-in browser (POST /login); state-changing requests also need "
                               "the page's CSRF token"},
    "streamToken": {"type": "apiKey", "in": "query", "name": "token",
                    "description": "a short-lived token from POST /api/v1/stream-tokens: the live feed, "
                                   "keyframes and clips"},
}
OPEN = {"/health"}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            doc.setdefault("components", {})["securitySchemes"] = SCHEMES
            doc["security"] = [{"apiKey": []}, {"session": []}]
            for path, ops in doc.get("paths", {}).items():
                for op in ops.values():
                    params = {p.get("name") for p in op.get("parameters", []) if p.get("in") == "query"}
                    if path in OPEN:
                        op["security"] = []
                    elif "token" in params:
                        op["security"] = [{"apiKey": []}, {"session": []}, {"streamToken": []}]
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
