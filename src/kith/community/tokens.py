"""Continuation tokens for list member pages: opaque to clients, signed so they cannot be forged.

A token carries the list it belongs to, the last member id served and the instant the list is
evaluated at, fixed by the first page so that every page of one read agrees on "now".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kith.clock import parse_datetime
from kith.errors import InvalidInput
from kith.signing import BadSignature, sign, verify

_PURPOSE = b"kith.community.member-page.v1"


class InvalidPageToken(InvalidInput):
    """A page token that was altered, truncated or issued for another list or server."""

    http_status = 400


@dataclass(frozen=True)
class PageToken:
    list_key: str
    after_id: int
    as_of: datetime


def encode_page_token(token: PageToken, key: bytes) -> str:
    payload = {"l": token.list_key, "a": token.after_id, "t": token.as_of.isoformat()}
    return sign(payload, key=key, purpose=_PURPOSE)


def decode_page_token(text: str, key: bytes, *, list_key: str) -> PageToken:
    """The token's content, after checking its signature and that it belongs to `list_key`."""
    try:
        fields = verify(text, key=key, purpose=_PURPOSE)
        token = PageToken(str(fields["l"]), int(fields["a"]), parse_datetime(fields["t"]))
    except (BadSignature, ValueError, KeyError, TypeError):
        raise InvalidPageToken("invalid page token") from None
    if token.list_key != list_key:
        raise InvalidPageToken("invalid page token: it was issued for another list")
    return token
