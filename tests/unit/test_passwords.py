"""Remembering verified passwords spares Argon2 for a while, and never accepts a wrong one."""

from __future__ import annotations

import pytest

from kith import passwords
from kith.passwords import RecentlyVerified, hash_password


@pytest.fixture
def hashings(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The hashes Argon2 verified against, in order."""
    seen: list[str | None] = []
    verify = passwords.verify_password

    def counted(password_hash: str | None, password: str) -> bool:
        seen.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counted)
    return seen


def test_a_password_verified_once_is_not_hashed_again_while_remembered(
    hashings: list[str | None],
) -> None:
    recent, password_hash = RecentlyVerified(), hash_password("right")

    assert [recent.verify(password_hash, "right") for _ in range(3)] == [True] * 3
    assert hashings == [password_hash]


def test_a_wrong_password_and_an_unknown_credential_are_checked_every_time(
    hashings: list[str | None],
) -> None:
    recent, password_hash = RecentlyVerified(), hash_password("right")
    recent.verify(password_hash, "right")

    assert recent.verify(password_hash, "wrong") is False
    assert recent.verify(password_hash, "wrong") is False
    assert recent.verify(None, "right") is False
    assert recent.verify(hash_password("right"), "right") is True  # a new hash: hashed again
    assert len(hashings) == 5


def test_a_remembered_password_is_hashed_again_once_its_time_is_up(
    hashings: list[str | None],
) -> None:
    recent, password_hash = RecentlyVerified(seconds=0.0), hash_password("right")

    assert recent.verify(password_hash, "right") and recent.verify(password_hash, "right")
    assert hashings == [password_hash, password_hash]


def test_the_oldest_are_forgotten_beyond_the_size(hashings: list[str | None]) -> None:
    recent = RecentlyVerified(size=2)
    first, second, third = (hash_password(f"p{n}") for n in range(3))
    for password_hash, password in ((first, "p0"), (second, "p1"), (third, "p2"), (first, "p0")):
        recent.verify(password_hash, password)

    assert hashings == [first, second, third, first]
