"""Domain errors as JSON HTTP responses: the one place a KithError becomes a status code."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kith.errors import AuthenticationFailed, KithError


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KithError)
    async def kith_error(_request: Request, error: KithError) -> JSONResponse:
        headers = {}
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if isinstance(error, AuthenticationFailed) and error.challenge:
            headers["WWW-Authenticate"] = error.challenge
        return JSONResponse(
            {"error": type(error).__name__, "message": str(error)},
            status_code=error.http_status,
            headers=headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        """A body or parameter of the wrong shape, in the same form as every other error."""
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        return JSONResponse(
            {"error": "InvalidInput", "message": f"the request is not valid: {problems}"},
            status_code=422,
        )
