"""The links a delivered message carries: unsubscribe, open pixel and click redirects, signed.

Every link holds a token naming its delivery (and, for a click, the address it leads to),
signed with the server's key: a forged or altered token is refused, so nobody can unsubscribe
someone else, and the click redirect only leads where this message's own links led (no open
redirect).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kith.config import Settings
from kith.errors import InvalidInput
from kith.signing import BadSignature, Signer, verify

PURPOSES = {
    "open": b"kith.mailing.open.v1",
    "click": b"kith.mailing.click.v1",
    "unsubscribe": b"kith.mailing.unsubscribe.v1",
}
_LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class InvalidLink(InvalidInput):
    """A tracking or unsubscribe token that was not signed here, or not for this use."""

    http_status = 400


@dataclass(frozen=True)
class LinkMaker:
    """Builds one message's links under the public base URL (KITH_PUBLIC_URL)."""

    base_url: str
    key: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkMaker:
        """Links under KITH_PUBLIC_URL, signed with the installation's key."""
        return cls(settings.public_url, settings.signing_key())

    def unsubscribe_url(self, delivery_id: int) -> str:
        return f"{self.base_url}/marketing/u/{self._token('unsubscribe', d=delivery_id)}"

    def open_url(self, delivery_id: int) -> str:
        return f"{self.base_url}/marketing/t/open/{self._token('open', d=delivery_id)}"

    def click_url(self, delivery_id: int, url: str) -> str:
        return f"{self.base_url}/marketing/t/click/{self._token('click', d=delivery_id, u=url)}"

    def _token(self, kind: str, **payload: Any) -> str:
        return self._signers[kind].sign(payload)

    @cached_property
    def _signers(self) -> dict[str, Signer]:
        """One Signer a kind of link: a message signs three links, a send 3 a recipient."""
        return {kind: Signer(self.key, purpose) for kind, purpose in PURPOSES.items()}


def track_links(body: str, unsubscribe: str, open_url: str, click_url: Callable[[str], str]) -> str:
    """The HTML `body` of a delivery with each web link but `unsubscribe` going through
    `click_url(link)` (the click redirect), and the open pixel of `open_url` before </body>."""

    def redirect(link: re.Match[str]) -> str:
        target = html.unescape(link.group(3)).strip()
        if not target.lower().startswith(("http://", "https://")) or target == unsubscribe:
            return link.group(0)
        quote = link.group(2)
        return f"{link.group(1)}{quote}{html.escape(click_url(target), quote=True)}{quote}"

    tracked = _LINK.sub(redirect, body)
    pixel = f'<img src="{open_url}" width="1" height="1" alt="">'
    parts = _BODY_END.split(tracked, maxsplit=1)
    return f"{parts[0]}{pixel}</body>{parts[1]}" if len(parts) == 2 else tracked + pixel


def read_link(token: str, kind: str, *, key: bytes) -> dict[str, Any]:
    """The payload of a `kind` token signed here, else InvalidLink (400: nothing changes)."""
    try:
        payload = verify(token, key=key, purpose=PURPOSES[kind])
        int(payload["d"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidLink(f"this {kind} link is not valid (altered or not issued here)") from None
    return payload
