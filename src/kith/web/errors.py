"""Errors as JSON HTTP responses in one shape, and in the OpenAPI documents as they are answered.

The one place a KithError becomes a status code, and where the framework's own refusals (no such
path, a method the path does not take, a body it cannot read, a parameter of the wrong shape)
take the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from kith.errors import AuthenticationFailed, KithError
from kith.web.requests import ErrorOut

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorOut"}
# What FastAPI documents for a parameter or body of the wrong shape, which we answer as ErrorOut.
FASTAPI_VALIDATION = {"$ref": "#/components/schemas/HTTPValidationError"}


# The error of a 404 for a path no route answers
NO_ROUTE = "NoRoute"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as `{"error", "message"}` and say so in the app's OpenAPI document."""

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
        return JSONResponse(
            {"error": "InvalidInput", "message": invalid_request_message(error)}, status_code=422
        )

    @app.exception_handler(HTTPException)
    async def refused_by_the_framework(request: Request, error: HTTPException) -> JSONResponse:
        """No route at the path (404), a method it does not take (405, with every method that
        the path does take in Allow), or a body that cannot be read (400)."""
        headers = dict(error.headers or {})
        path = request.url.path
        name = HTTPStatus(error.status_code).phrase.title().replace(" ", "").replace("-", "")
        if error.status_code == 404:
            # not a NotFound of something the path names: a client may be at the wrong URL
            name, message = NO_ROUTE, f"nothing is at {path}"
        elif error.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"{path} does not take {request.method}; it takes {', '.join(allowed)}"
        else:
            message = str(error.detail)
        return JSONResponse(
            {"error": name, "message": message},
            status_code=error.status_code,
            headers=headers or None,
        )

    generate_openapi: Callable[[], dict[str, Any]] = app.openapi
    app.openapi = lambda: document_errors(generate_openapi())  # type: ignore[method-assign]


def invalid_request_message(error: RequestValidationError) -> str:
    """Every problem of a request, each with where it is (`path.mailing_id: ...`)."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in error.errors()
    )
    return f"the request is not valid: {problems}"


def allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app takes at the request's path (Starlette's own 405 names
    only those of the first route it found there)."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Document the framework's refusals as they are answered: 400 for a JSON body it cannot
    read, and 422 as ErrorOut rather than FastAPI's `{"detail": [...]}`. Safe to apply twice."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "ErrorOut", ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            invalid = responses.get("422", {}).get("content", {}).get("application/json", {})
            if invalid.get("schema") == FASTAPI_VALIDATION:
                responses["422"] = _error("Invalid input; the message names the field at fault")
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                responses.setdefault("400", _error("The body cannot be read as JSON"))
    schemas.pop("HTTPValidationError", None)  # no longer referenced
    schemas.pop("ValidationError", None)
    return schema


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
