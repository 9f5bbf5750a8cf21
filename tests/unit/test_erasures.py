"""The keyed digest that remembers an erased person: stable under one key, different under
another or for another kind of value, and still matched after the keys rotate."""

from __future__ import annotations

from kith.encryption import SecretBox, derive_fernet_key
from kith.erasures import keyed_digest

OLD, NEW = derive_fernet_key("old secret"), derive_fernet_key("new secret")


def test_a_digest_depends_on_the_value_its_kind_and_the_key() -> None:
    digest = keyed_digest(OLD, "email", "ann@example.org")

    assert digest == keyed_digest(OLD, "email", "ann@example.org")
    assert digest != keyed_digest(NEW, "email", "ann@example.org")
    assert digest != keyed_digest(OLD, "remote_id", "ann@example.org")
    assert "ann" not in digest and len(digest) == 64


def test_a_digest_stored_under_an_old_key_is_still_matched_after_a_rotation() -> None:
    stored = SecretBox([OLD], source="test").person_digests("remote_id", "R-1")[0]

    rotated = SecretBox([NEW, OLD], source="test").person_digests("remote_id", "R-1")

    assert rotated[0] != stored and stored in rotated
