"""VERP return paths: each message's envelope sender names its mailing and delivery, signed.

A bounce goes to the envelope sender (Return-Path), not to the From address, so when the
operator sets a bounce address (KITH_BOUNCE_ADDRESS, `bounces@mail.example.org`) every message
goes out from `bounces+M-D-MAC@mail.example.org`: mailing M, delivery D (which names the
subscriber and the address), and a MAC made with the installation's key, so nobody can bounce a
subscriber out by writing to a made-up address. Whatever a remote server writes in its report,
the address the report was sent to says whose message bounced.

The token is lowercase letters, digits and dashes: servers may change the case of a local part,
and RFC 5321 allows 64 octets for it (a token takes about 30).
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from typing import NamedTuple

PURPOSE = b"kith.mailing.bounce.v1"
_MAC_BYTES = 10  # 80 bits: 16 characters of base32
_TOKEN = re.compile(r"\+(\d{1,12})-(\d{1,18})-([a-z2-7]{16})@", re.IGNORECASE)


class VerpToken(NamedTuple):
    """What a return path names: the mailing and its delivery (one subscriber's address)."""

    mailing_id: int
    delivery_id: int


@dataclass(frozen=True)
class ReturnPath:
    """The envelope sender of each message: `bounce_address` with the delivery's token, or,
    without a bounce address, the mailing's From address as it was before VERP."""

    bounce_address: str | None
    key: bytes

    def sender(self, from_address: str, mailing_id: int, delivery_id: int) -> str:
        if not self.bounce_address:
            return from_address
        local, _, domain = self.bounce_address.rpartition("@")
        mac = _mac(mailing_id, delivery_id, self.key)
        return f"{local}+{mailing_id}-{delivery_id}-{mac}@{domain}"


def read_token(address: str, *, key: bytes) -> VerpToken | None:
    """The token in an address a return path made with this key; None for any other address
    (no token, or one whose MAC does not match: altered, or made by another installation)."""
    for found in _TOKEN.finditer(address):
        mailing_id, delivery_id = int(found.group(1)), int(found.group(2))
        if hmac.compare_digest(found.group(3).lower(), _mac(mailing_id, delivery_id, key)):
            return VerpToken(mailing_id, delivery_id)
    return None


def _mac(mailing_id: int, delivery_id: int, key: bytes) -> str:
    digest = hmac.digest(key, PURPOSE + b"\x00" + b"%d-%d" % (mailing_id, delivery_id), "sha256")
    return base64.b32encode(digest[:_MAC_BYTES]).decode("ascii").lower()
