"""Logins to the web admin, on SQLite and PostgreSQL: Argon2 hashes, the lock after wrong
passwords, the community's rule that a login is a member's, `kith users`, the demo's logins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kith.cli import app
from kith.community import accounts as community_accounts
from kith.config import Settings, get_settings
from kith.db import Database
from kith.demo.accounts import create_demo_logins
from kith.demo.community import SUPER_ADMIN_EMAIL
from kith.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, Throttled
from kith.marketing import accounts as marketing_accounts
from kith.web.accounts import FAILURE_LIMIT, LOCK_TIME, get_account, sign_in
from tests.support.community_world import add_member

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
ADDRESS, ATTACKER = "192.0.2.1", "198.51.100.7"  # where the owner and an attacker sign in from
Account = marketing_accounts.Account


def _marketer(db: Database, email: str = "mia@example.org") -> None:
    with db.transaction() as session:
        marketing_accounts.create_login(
            session, email=email, role="admin", password=PASSWORD, now=NOW
        )


def _mia(db: Database, password: str, source: str = ADDRESS, now: datetime = NOW) -> Account:
    return sign_in(db, Account, "mia@example.org", password, source=source, now=now)


def test_a_login_opens_with_its_password_which_is_stored_as_an_argon2_hash(
    marketing_db: Database,
) -> None:
    _marketer(marketing_db, "Mia@Example.org")

    account = sign_in(marketing_db, Account, "mia@EXAMPLE.org", PASSWORD, source=ADDRESS, now=NOW)

    assert (account.email, account.role, account.signed_in_at) == ("Mia@example.org", "admin", NOW)
    assert account.password_hash.startswith("$argon2id$") and PASSWORD not in account.password_hash
    with pytest.raises(AuthenticationFailed, match="the email or password is not right"):
        _mia(marketing_db, "wrong password!")
    with pytest.raises(AuthenticationFailed, match="the email or password is not right"):
        sign_in(marketing_db, Account, "nobody@example.org", PASSWORD, source=ADDRESS, now=NOW)


def test_wrong_passwords_lock_their_address_out_for_a_while_even_against_the_right_one(
    marketing_db: Database,
) -> None:
    _marketer(marketing_db)
    for _ in range(FAILURE_LIMIT):
        with pytest.raises(AuthenticationFailed):
            _mia(marketing_db, "wrong password!")

    with pytest.raises(Throttled, match="from this address") as locked:
        _mia(marketing_db, PASSWORD, now=NOW + LOCK_TIME / 2)
    assert locked.value.retry_after == int(LOCK_TIME.total_seconds() / 2)
    assert _mia(marketing_db, PASSWORD, now=NOW + LOCK_TIME + timedelta(seconds=1)).id


def test_wrong_passwords_from_one_address_never_lock_the_owner_out_from_another(
    marketing_db: Database,
) -> None:
    _marketer(marketing_db)
    for _ in range(FAILURE_LIMIT):
        with pytest.raises(AuthenticationFailed):
            _mia(marketing_db, "a guess at it", source=ATTACKER)

    owner = _mia(marketing_db, PASSWORD, source=ADDRESS)

    assert owner.signed_in_at == NOW
    with pytest.raises(Throttled):
        _mia(marketing_db, PASSWORD, source=ATTACKER)


def test_an_email_without_a_login_is_locked_alike_so_the_lock_does_not_reveal_logins(
    marketing_db: Database,
) -> None:
    for _ in range(FAILURE_LIMIT):
        with pytest.raises(AuthenticationFailed):
            sign_in(marketing_db, Account, "nobody@example.org", PASSWORD, source=ADDRESS, now=NOW)

    with pytest.raises(Throttled):
        sign_in(marketing_db, Account, "nobody@example.org", PASSWORD, source=ADDRESS, now=NOW)


def test_a_login_is_refused_a_taken_email_an_unknown_role_or_a_short_password(
    marketing_db: Database,
) -> None:
    _marketer(marketing_db)

    with marketing_db.transaction() as session, pytest.raises(Conflict):
        marketing_accounts.create_login(
            session, email="MIA@example.org", role="admin", password=PASSWORD, now=NOW
        )
    with marketing_db.transaction() as session, pytest.raises(InvalidInput, match="role"):
        marketing_accounts.create_login(
            session, email="leo@example.org", role="member", password=PASSWORD, now=NOW
        )
    with marketing_db.transaction() as session, pytest.raises(InvalidInput, match="12"):
        marketing_accounts.create_login(
            session, email="leo@example.org", role="admin", password="short", now=NOW
        )


def test_a_community_login_is_a_members_and_super_admin_only_for_a_super_admin(
    community_db: Database,
) -> None:
    with community_db.transaction() as session:
        add_member(session, "ann", email="ann@example.org")
        add_member(session, "sam", email="sam@example.org", is_super_admin=True)

    def create(email: str, role: str) -> community_accounts.Account:
        with community_db.transaction() as session:
            return community_accounts.create_login(
                session, email=email, role=role, password=PASSWORD, now=NOW
            )

    with pytest.raises(InvalidInput, match=r"ann@example\.org is not a Super Admin"):
        create("ann@example.org", "super_admin")
    with pytest.raises(NotFound, match="no member"):
        create("stranger@example.org", "member")
    assert create("ann@example.org", "member").role == "member"
    assert create("SAM@example.org", "super_admin").email == "sam@example.org"


@pytest.fixture
def kith(
    community_db: Database, marketing_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """A runner whose `kith` uses this test's databases."""
    monkeypatch.setenv("KITH_COMMUNITY_DB_URL", community_db.url)
    monkeypatch.setenv("KITH_MARKETING_DB_URL", marketing_db.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_kith_users_create_asks_for_the_password_or_prints_a_generated_one_once(
    kith: CliRunner, community_db: Database, marketing_db: Database
) -> None:
    with community_db.transaction() as session:
        add_member(session, "sam", email="sam@example.org", is_super_admin=True)
    create = ["users", "create", "--email"]

    asked = kith.invoke(
        app,
        [*create, "mia@example.org", "--side", "marketing", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    generated = kith.invoke(
        app,
        [*create, "sam@example.org", "--side", "community", "--role", "super_admin", "--generate"],
    )
    refused = kith.invoke(
        app,
        [*create, "x@example.org", "--side", "marketing", "--role", "super_admin", "--generate"],
    )
    listed = kith.invoke(app, ["users", "list", "--json"])

    assert asked.exit_code == 0, asked.output
    assert generated.exit_code == 0, generated.output
    password = generated.stdout.split("Password: ")[1].split()[0]
    sign_in(
        community_db,
        community_accounts.Account,
        "sam@example.org",
        password,
        source=ADDRESS,
        now=NOW,
    )
    sign_in(marketing_db, Account, "mia@example.org", PASSWORD, source=ADDRESS, now=NOW)
    assert refused.exit_code == 2 and "admin" in refused.output
    assert [(row["side"], row["email"], row["role"]) for row in json.loads(listed.stdout)] == [
        ("marketing", "mia@example.org", "admin"),
        ("community", "sam@example.org", "super_admin"),
    ]
    assert password not in listed.stdout


def test_kith_users_set_password_replaces_it_ends_the_sessions_and_lifts_the_lock(
    kith: CliRunner, marketing_db: Database
) -> None:
    _marketer(marketing_db)
    for source in (ADDRESS, ATTACKER):  # both locked out
        for _ in range(FAILURE_LIMIT):
            with pytest.raises(AuthenticationFailed):
                _mia(marketing_db, "wrong password!", source=source)
    with marketing_db.session() as session:
        before = get_account(session, Account, "mia@example.org").session_version
    new_password = "a new and long passphrase"
    command = ["users", "set-password", "--side", "marketing", "--email"]

    asked = kith.invoke(app, [*command, "MIA@example.org"], input=f"{new_password}\n" * 2)
    unknown = kith.invoke(app, [*command, "nobody@example.org", "--generate"])
    short = kith.invoke(app, [*command, "mia@example.org"], input="short\nshort\n")

    assert asked.exit_code == 0, asked.output
    assert "sessions have ended" in asked.output
    assert unknown.exit_code != 0 and "no login has the email" in unknown.output
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    with pytest.raises(AuthenticationFailed):  # not Throttled: the locks are lifted
        _mia(marketing_db, PASSWORD, source=ATTACKER)
    account = _mia(marketing_db, new_password)
    assert account.session_version == before + 1  # cookies of the old version stop working

    generated = kith.invoke(app, [*command, "mia@example.org", "--generate"])

    assert generated.exit_code == 0, generated.output
    password = generated.stdout.split("Password: ")[1].split()[0]
    assert _mia(marketing_db, password).id == account.id


def test_the_demo_logins_open_both_sides_and_get_new_passwords_each_run(
    community_db: Database, marketing_db: Database, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        community_db_url=community_db.url,
        marketing_db_url=marketing_db.url,
        public_url="https://kith.example.org",
    )
    with community_db.transaction() as session:
        add_member(session, "M-0000", email=SUPER_ADMIN_EMAIL, is_super_admin=True)

    marketer, _ = create_demo_logins(settings, NOW)
    again, manager = create_demo_logins(settings, NOW)

    assert marketer.url == "https://kith.example.org/marketing/"
    assert manager.url == "https://kith.example.org/community/"
    assert again.password != marketer.password
    sign_in(marketing_db, Account, again.email, again.password, source=ADDRESS, now=NOW)
    with pytest.raises(AuthenticationFailed):
        sign_in(marketing_db, Account, marketer.email, marketer.password, source=ADDRESS, now=NOW)
    signed = sign_in(
        community_db,
        community_accounts.Account,
        manager.email,
        manager.password,
        source=ADDRESS,
        now=NOW,
    )
    assert signed.role == "super_admin"
