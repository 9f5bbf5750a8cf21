"""The web admin's session cookie and the CSRF token tied to it, both signed (kith.signing).

Every visitor gets a session with a random id; signing in puts the account's id and
session_version in it (under a new id, so a session planted before sign-in is worthless). A
form's CSRF token is the session id signed for another purpose: a page of another site can
neither read it nor make one. Each side signs with its own purposes, so a cookie or token of
one side is no good on the other.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from kith.signing import BadSignature, sign, verify

# A session lasts this long from sign-in, however active.
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class SessionState:
    """What the cookie says: the session id and, once signed in, whose session it is."""

    session_id: str
    account_id: int | None = None
    version: int | None = None
    signed_in_at: datetime | None = None

    @classmethod
    def anonymous(cls) -> SessionState:
        return cls(secrets.token_urlsafe(16))

    @classmethod
    def signed_in(cls, account_id: int, version: int, now: datetime) -> SessionState:
        return cls(secrets.token_urlsafe(16), account_id, version, now)


class SessionSigner:
    """Signs and reads one side's session cookies and CSRF tokens."""

    def __init__(self, side: str, key: bytes) -> None:
        self.cookie_name = f"kith_{side}_session"
        self._key = key
        self._session_purpose = f"kith.web.{side}.session.v1".encode()
        self._csrf_purpose = f"kith.web.{side}.csrf.v1".encode()

    def cookie(self, state: SessionState) -> str:
        payload: dict[str, object] = {"s": state.session_id}
        if state.account_id is not None and state.signed_in_at is not None:
            payload |= {
                "a": state.account_id,
                "v": state.version,
                "t": int(state.signed_in_at.timestamp()),
            }
        return sign(payload, key=self._key, purpose=self._session_purpose)

    def read(self, cookie: str | None, *, now: datetime) -> SessionState | None:
        """The session a cookie holds; None when it is missing, forged or malformed. A signed-in
        session older than SESSION_LIFETIME comes back anonymous (same id, so forms still work).
        """
        if not cookie:
            return None
        try:
            payload = verify(cookie, key=self._key, purpose=self._session_purpose)
            session_id = str(payload["s"])
            if "a" not in payload:
                return SessionState(session_id)
            signed_in_at = datetime.fromtimestamp(int(payload["t"]), tz=now.tzinfo)
            state = SessionState(session_id, int(payload["a"]), int(payload["v"]), signed_in_at)
        except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
            return None
        if now - signed_in_at > SESSION_LIFETIME:
            return SessionState(session_id)
        return state

    def csrf_token(self, state: SessionState) -> str:
        return sign({"s": state.session_id}, key=self._key, purpose=self._csrf_purpose)

    def csrf_valid(self, state: SessionState | None, token: str | None) -> bool:
        """Whether `token` was issued for this very session."""
        if state is None or not token:
            return False
        try:
            payload = verify(token, key=self._key, purpose=self._csrf_purpose)
        except BadSignature:
            return False
        return hmac.compare_digest(str(payload.get("s", "")), state.session_id)
