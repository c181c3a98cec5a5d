"""``create_app(settings)``: the FastAPI application. Routes stay thin; errors from the exception
tree map to HTTP status codes in one handler (``rxaudit.errors.HTTP_STATUS``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rxaudit import __version__
from rxaudit.errors import HTTP_STATUS, NotFound, RxauditError, lookup
from rxaudit.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="rxaudit", version=__version__)
    app.state.settings = settings

    @app.exception_handler(RxauditError)
    async def _rxaudit_error(_request: Request, exc: RxauditError) -> JSONResponse:
        status = lookup(HTTP_STATUS, exc, 500)
        detail = "not found" if isinstance(exc, NotFound) else str(exc)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
