"""Signed tokens: a small JSON payload and its HMAC-SHA256, safe to hand out in URLs.

Each kind of token has its own purpose label, so a token signed for one use (a member page,
an unsubscribe link) is never accepted for another, although all share one key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson


class BadSignature(ValueError):
    """A token that was altered, truncated, or signed for another purpose or key."""


def sign(payload: dict[str, Any], *, key: bytes, purpose: bytes) -> str:
    raw = orjson.dumps(payload)
    return f"{_b64(raw)}.{_b64(_mac(raw, key, purpose))}"


def verify(token: str, *, key: bytes, purpose: bytes) -> dict[str, Any]:
    """The payload of a token this key signed for this purpose, else BadSignature."""
    try:
        encoded_payload, encoded_signature = token.split(".")
        raw = _unb64(encoded_payload)
        signature = _unb64(encoded_signature)
    except ValueError:
        raise BadSignature("the token is malformed") from None
    if not hmac.compare_digest(signature, _mac(raw, key, purpose)):
        raise BadSignature("the token's signature does not match")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadSignature("the token's payload is not JSON") from None
    if not isinstance(payload, dict):
        raise BadSignature("the token's payload is not an object")
    return payload


def _mac(raw: bytes, key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, purpose + b"\x00" + raw, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    # binascii.Error is a ValueError; non-ASCII text raises UnicodeEncodeError, also one
    return base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
