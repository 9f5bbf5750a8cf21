"""Domain errors as JSON HTTP responses: the one place a KithError becomes a status code."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kith.errors import KithError, Throttled


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KithError)
    async def kith_error(_request: Request, error: KithError) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) else None
        return JSONResponse(
            {"error": type(error).__name__, "message": str(error)},
            status_code=error.http_status,
            headers=headers,
        )
