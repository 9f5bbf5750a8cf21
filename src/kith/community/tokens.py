"""Continuation tokens for list member pages: opaque to clients, signed so they cannot be forged.

A token carries the list it belongs to, the last member id served and the instant the list is
evaluated at, fixed by the first page so that every page of one read agrees on "now".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

import orjson

from kith.clock import parse_datetime
from kith.errors import InvalidInput

# Separates these signatures from any other token signed with the same key.
_PURPOSE = b"kith.community.member-page.v1\x00"


class InvalidPageToken(InvalidInput):
    """A page token that was altered, truncated or issued for another list or server."""

    http_status = 400


@dataclass(frozen=True)
class PageToken:
    list_key: str
    after_id: int
    as_of: datetime


def encode_page_token(token: PageToken, key: bytes) -> str:
    payload = orjson.dumps({"l": token.list_key, "a": token.after_id, "t": token.as_of.isoformat()})
    return f"{_b64(payload)}.{_b64(_sign(payload, key))}"


def decode_page_token(text: str, key: bytes, *, list_key: str) -> PageToken:
    """The token's content, after checking its signature and that it belongs to `list_key`."""
    try:
        encoded_payload, encoded_signature = text.split(".")
        payload = _unb64(encoded_payload)
        signature = _unb64(encoded_signature)
    except ValueError:
        raise InvalidPageToken("invalid page token") from None
    if not hmac.compare_digest(signature, _sign(payload, key)):
        raise InvalidPageToken("invalid page token")
    try:
        fields = orjson.loads(payload)
        token = PageToken(str(fields["l"]), int(fields["a"]), parse_datetime(fields["t"]))
    except (ValueError, KeyError, TypeError):
        raise InvalidPageToken("invalid page token") from None
    if token.list_key != list_key:
        raise InvalidPageToken("invalid page token: it was issued for another list")
    return token


def _sign(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, _PURPOSE + payload, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    # binascii.Error is a ValueError; non-ASCII text raises UnicodeEncodeError, also one
    return base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
