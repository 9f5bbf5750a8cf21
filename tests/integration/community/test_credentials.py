"""API credentials: issuing, revoking, authenticating and throttling, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kith.community.credentials import (
    IssuedCredential,
    authenticate,
    create_credential,
    list_credentials,
    revoke_credential,
)
from kith.community.models import ApiAuthFailure, ApiCredential
from kith.config import Settings
from kith.db import Database
from kith.errors import AuthenticationFailed, NotFound, PermissionDenied, Throttled
from tests.support.community_world import NOW, add_member

MINUTE = timedelta(minutes=1)
ADDRESS, ATTACKER = "192.0.2.1", "198.51.100.7"  # where the owner and an attacker call from


@pytest.fixture
def throttled_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_failure_limit": 3, "api_failure_window_seconds": 300})


@pytest.fixture
def issued(community_db: Database) -> IssuedCredential:
    with community_db.transaction() as session:
        add_member(session, "admin", email="admin@example.org", is_super_admin=True)
        add_member(session, "plain", email="plain@example.org")
        return create_credential(session, name="Marketing", by="admin@example.org", now=NOW)


def _authenticate(
    db: Database,
    key: str | None,
    password: str | None,
    settings: Settings,
    *,
    source: str = ADDRESS,
    now: datetime = NOW,
) -> ApiCredential:
    """authenticate() as a request from `source` at `now` calls it."""
    return authenticate(db, key, password, source=source, now=now, settings=settings)


def _stored(db: Database, iam_key: str) -> ApiCredential:
    with db.session() as session:
        credential = session.scalar(select(ApiCredential).where(ApiCredential.iam_key == iam_key))
    assert credential is not None
    return credential


def _failures(db: Database, iam_key: str, source: str = ADDRESS) -> int:
    with db.session() as session:
        row = session.get(ApiAuthFailure, {"source": source, "subject": iam_key})
    return 0 if row is None else row.failures


def test_a_credential_keeps_only_an_argon2_hash_of_its_password(
    community_db: Database, issued: IssuedCredential
) -> None:
    stored = _stored(community_db, issued.credential.iam_key)
    assert stored.password_hash.startswith("$argon2id$")
    assert issued.password not in stored.password_hash
    assert stored.created_by == "admin"
    assert len(issued.credential.iam_key) == 32 and len(issued.password) >= 40


def test_only_a_super_admin_can_create_credentials(
    community_db: Database, issued: IssuedCredential
) -> None:
    with (
        pytest.raises(PermissionDenied, match="only Super Admins can create API credentials"),
        community_db.transaction() as session,
    ):
        create_credential(session, name="Other", by="plain", now=NOW)
    with community_db.session() as session:
        assert [c.name for c in list_credentials(session)] == ["Marketing"]


def test_the_right_key_and_password_authenticate(
    community_db: Database, issued: IssuedCredential, settings: Settings
) -> None:
    credential = _authenticate(community_db, issued.credential.iam_key, issued.password, settings)
    assert credential.name == "Marketing"
    assert _stored(community_db, credential.iam_key).last_used_at == NOW


@pytest.mark.parametrize("case", ["wrong password", "unknown key", "no password", "no key"])
def test_bad_credentials_fail_with_one_message_that_does_not_tell_if_the_key_exists(
    community_db: Database, issued: IssuedCredential, settings: Settings, case: str
) -> None:
    key, password = {
        "wrong password": (issued.credential.iam_key, "not-the-password"),
        "unknown key": ("0" * 32, issued.password),
        "no password": (issued.credential.iam_key, None),
        "no key": (None, issued.password),
    }[case]
    with pytest.raises(AuthenticationFailed) as failure:
        _authenticate(community_db, key, password, settings)
    if key is not None:
        assert str(failure.value) == (
            "authentication failed: check the HLIAMKey and HLPassword headers"
        )


def test_a_revoked_credential_no_longer_authenticates(
    community_db: Database, issued: IssuedCredential, settings: Settings
) -> None:
    _authenticate(community_db, issued.credential.iam_key, issued.password, settings)  # remembered
    with community_db.transaction() as session:
        revoke_credential(session, issued.credential.iam_key, by="admin", now=NOW)
    with pytest.raises(AuthenticationFailed, match="authentication failed"):
        _authenticate(community_db, issued.credential.iam_key, issued.password, settings)


def test_revoking_needs_a_super_admin_and_a_known_key(
    community_db: Database, issued: IssuedCredential
) -> None:
    with pytest.raises(PermissionDenied), community_db.transaction() as session:
        revoke_credential(session, issued.credential.iam_key, by="plain", now=NOW)
    with pytest.raises(NotFound, match="no API credential"), community_db.transaction() as session:
        revoke_credential(session, "nope", by="admin", now=NOW)
    assert _stored(community_db, issued.credential.iam_key).revoked_at is None


def test_revoking_twice_keeps_the_first_revocation_time(
    community_db: Database, issued: IssuedCredential
) -> None:
    for when in (NOW, NOW + MINUTE):
        with community_db.transaction() as session:
            revoke_credential(session, issued.credential.iam_key, by="admin", now=when)
    assert _stored(community_db, issued.credential.iam_key).revoked_at == NOW


def test_after_the_limit_the_failing_address_is_refused_even_the_right_password_for_a_window(
    community_db: Database, issued: IssuedCredential, throttled_settings: Settings
) -> None:
    key = issued.credential.iam_key
    for second in range(3):
        with pytest.raises(AuthenticationFailed):
            _authenticate(
                community_db, key, "wrong", throttled_settings, now=NOW + timedelta(seconds=second)
            )
    at = NOW + timedelta(seconds=10)
    with pytest.raises(Throttled) as throttled:
        _authenticate(community_db, key, issued.password, throttled_settings, now=at)
    # the lock runs a full window from the failure that reached the limit (at +2 s)
    assert throttled.value.retry_after == 300 - 8
    later = NOW + timedelta(seconds=302)
    credential = _authenticate(community_db, key, issued.password, throttled_settings, now=later)
    assert credential.iam_key == key
    assert _failures(community_db, key) == 0


def test_failures_from_one_address_never_lock_the_owner_out_from_another(
    community_db: Database, issued: IssuedCredential, throttled_settings: Settings
) -> None:
    key = issued.credential.iam_key

    def attempt(password: str, source: str) -> None:
        _authenticate(community_db, key, password, throttled_settings, source=source)

    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            attempt("guess", ATTACKER)
    with pytest.raises(AuthenticationFailed):  # the owner's own typo counts for its address
        attempt("typo", ADDRESS)

    attempt(issued.password, ADDRESS)

    with pytest.raises(Throttled, match="from this address"):
        attempt(issued.password, ATTACKER)
    assert (_failures(community_db, key, ATTACKER), _failures(community_db, key)) == (3, 0)


def test_counting_a_failure_deletes_the_counts_whose_window_has_passed(
    community_db: Database, issued: IssuedCredential, throttled_settings: Settings
) -> None:
    for source, when in ((ATTACKER, NOW), (ADDRESS, NOW + 5 * MINUTE)):
        with pytest.raises(AuthenticationFailed):
            _authenticate(community_db, "guess", "x", throttled_settings, source=source, now=when)
    with community_db.session() as session:
        kept = session.execute(select(ApiAuthFailure.source, ApiAuthFailure.failures)).all()
    assert [tuple(row) for row in kept] == [(ADDRESS, 1)]


def test_failures_in_an_expired_window_are_forgotten(
    community_db: Database, issued: IssuedCredential, throttled_settings: Settings
) -> None:
    key = issued.credential.iam_key
    for when in (NOW, NOW + MINUTE, NOW + 6 * MINUTE):
        with pytest.raises(AuthenticationFailed):
            _authenticate(community_db, key, "wrong", throttled_settings, now=when)
    assert _failures(community_db, key) == 1
    _authenticate(community_db, key, issued.password, throttled_settings, now=NOW + 7 * MINUTE)


def test_a_success_resets_the_failure_count(
    community_db: Database, issued: IssuedCredential, throttled_settings: Settings
) -> None:
    key = issued.credential.iam_key
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            _authenticate(community_db, key, "wrong", throttled_settings)
    _authenticate(community_db, key, issued.password, throttled_settings)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            _authenticate(community_db, key, "wrong", throttled_settings)
    assert _failures(community_db, key) == 2


def test_unknown_keys_are_throttled_like_known_ones(
    community_db: Database, throttled_settings: Settings
) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            _authenticate(community_db, "guess", "x", throttled_settings)
    with pytest.raises(Throttled):
        _authenticate(community_db, "guess", "x", throttled_settings)


def test_the_failure_count_is_shared_by_every_process_using_the_database(
    community_db: Database, issued: IssuedCredential, throttled_settings: Settings
) -> None:
    other_process = Database(community_db.url)
    try:
        for db in (community_db, other_process, community_db):
            with pytest.raises(AuthenticationFailed):
                _authenticate(db, issued.credential.iam_key, "wrong", throttled_settings)
        with pytest.raises(Throttled):
            _authenticate(
                other_process, issued.credential.iam_key, issued.password, throttled_settings
            )
    finally:
        other_process.dispose()


def test_concurrent_failures_are_all_counted(
    community_db: Database, issued: IssuedCredential, settings: Settings
) -> None:
    generous = settings.model_copy(update={"api_failure_limit": 100})

    def fail_once(_: int) -> None:
        with pytest.raises(AuthenticationFailed):
            _authenticate(community_db, "guess", "x", generous)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(fail_once, range(12)))
    assert _failures(community_db, "guess") == 12


def test_last_used_at_is_written_at_most_once_a_minute(
    community_db: Database, issued: IssuedCredential, settings: Settings
) -> None:
    key = issued.credential.iam_key
    for when in (NOW, NOW + timedelta(seconds=59)):
        _authenticate(community_db, key, issued.password, settings, now=when)
    assert _stored(community_db, key).last_used_at == NOW
    _authenticate(community_db, key, issued.password, settings, now=NOW + MINUTE)
    assert _stored(community_db, key).last_used_at == NOW + MINUTE


def test_an_overlong_key_is_counted_without_overflowing_the_column(
    community_db: Database, throttled_settings: Settings
) -> None:
    key = "k" * 5000
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            _authenticate(community_db, key, "x", throttled_settings)
    with pytest.raises(Throttled):
        _authenticate(community_db, key, "x", throttled_settings)
