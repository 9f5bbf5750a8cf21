"""Argon2 hashes of the secrets people and integrators present: web logins, API credentials."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash (an unknown login) a dummy one is checked, so
    that the time taken does not tell whether the login exists."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash on next success)."""
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(32))


class RecentlyVerified:
    """Passwords verified lately against their hashes, so that an integration calling many
    times a second (the connection's live syncs, activity posted in batches) costs one Argon2
    verification every `seconds` rather than one per request.

    Only successes are kept, as an HMAC of hash and password under a key of this process (never
    the password); a new password has a new hash, so it misses. Whoever asks still checks that
    the credential is live: this only spares the hashing.
    """

    def __init__(self, *, seconds: float = 300.0, size: int = 1024) -> None:
        self.seconds = seconds
        self.size = size
        self._key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, password_hash: str | None, password: str) -> bool:
        """verify_password, remembered for a while when it succeeds."""
        if password_hash is None:
            return verify_password(None, password)
        digest = hmac.new(self._key, f"{password_hash}\0{password}".encode(), hashlib.sha256)
        entry, now = digest.digest(), time.monotonic()
        with self._lock:
            verified_at = self._verified.get(entry)
            if verified_at is not None and now - verified_at < self.seconds:
                return True
        if not verify_password(password_hash, password):
            return False
        with self._lock:
            self._verified[entry] = now
            self._verified.move_to_end(entry)
            while len(self._verified) > self.size:
                self._verified.popitem(last=False)
        return True
