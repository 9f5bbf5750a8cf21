"""HTML form bodies (application/x-www-form-urlencoded) read without a multipart parser.

The admin pages post plain forms only, so the standard library's parser is all they need.
A body is read once per request and kept on it, so the CSRF check and the route share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request

from kith.errors import InvalidInput, KithError

# Large enough for a mailing's three templates at their 100,000-character limit.
MAX_FORM_BYTES = 1024 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


class BodyTooLarge(KithError):
    http_status = 413


class Form:
    """A form's fields; a name may repeat (checkboxes of one name)."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: dict[str, list[str]] = {}
        for name, value in pairs:
            self._fields.setdefault(name, []).append(value)

    def get(self, name: str, default: str = "") -> str:
        values = self._fields.get(name)
        return values[0] if values else default

    def text(self, name: str) -> str:
        """The field trimmed; "" when absent."""
        return self.get(name).strip()

    def optional(self, name: str) -> str | None:
        """The field trimmed, or None when absent or blank."""
        return self.text(name) or None

    def getlist(self, name: str) -> list[str]:
        return list(self._fields.get(name, []))

    def checked(self, name: str) -> bool:
        """A checkbox: sent (with any value) when ticked, absent otherwise."""
        return name in self._fields

    def number(self, name: str) -> int:
        text = self.text(name)
        try:
            return int(text)
        except ValueError:
            raise InvalidInput(f"{name}: {text!r} is not a whole number") from None


async def read_form(request: Request) -> Form:
    """The request's form (empty for a body of another type), parsed once."""
    cached: Form | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    form = Form()
    if request.headers.get("content-type", "").split(";")[0].strip() == FORM_TYPE:
        form = Form(parse_qsl((await read_body(request)).decode("utf-8", "replace"), True))
    request.state.form = form
    return form


async def read_body(request: Request) -> bytes:
    """The body (read once), refused past MAX_FORM_BYTES before more of it is read."""
    cached: bytes | None = getattr(request.state, "body", None)
    if cached is not None:
        return cached
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BodyTooLarge(f"the body is larger than {MAX_FORM_BYTES // 1024} KiB")
    request.state.body = whole = bytes(body)
    return whole


def parse_json_field(text: str, what: str) -> Any:
    """A form field holding JSON (a definition typed or pasted in), else InvalidInput."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"{what}: not JSON ({error})") from None


async def read_json(request: Request) -> Any:
    """The request's JSON body (the pages' scripts send JSON), parsed once."""
    body = await read_body(request)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"the body is not JSON: {error}") from None
