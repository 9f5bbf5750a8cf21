"""Integration Settings on SQLite and PostgreSQL: validation, partial changes, and a password
that is stored only encrypted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text

from kith.config import Settings
from kith.db import Database
from kith.encryption import SecretBox, SecretUnreadable
from kith.errors import InvalidInput
from kith.marketing.integration import (
    IntegrationView,
    configure_integration,
    get_integration,
    integration_password,
    reencrypt_secrets,
)
from tests.support.community_world import NOW

PASSWORD = "Pw-9f8e7d6c5b4a3928-unmistakable"
IAM_KEY = "iam-0a1b2c3d4e5f"
URL = "https://community.example.org/community"


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox.from_settings(Settings(data_dir=tmp_path / "keys", secret_key=None))


def configure(db: Database, box: SecretBox, **changes: Any) -> IntegrationView:
    with db.transaction() as session:
        return IntegrationView.of(configure_integration(session, box=box, now=NOW, **changes))


def stored_password_column(db: Database) -> str:
    with db.session() as session:
        return str(session.scalar(text("SELECT password_encrypted FROM integration_settings")))


def raw_stored_text(db: Database) -> bytes:
    """Everything the database holds for the settings, as the bytes an attacker could read."""
    if db.is_sqlite:
        database = Path(str(db.engine.url.database))
        files = [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-journal"))]
        return b"".join(path.read_bytes() for path in files if path.exists())
    with db.session() as session:
        rows = session.scalars(text("SELECT t::text FROM integration_settings AS t")).all()
    return "\n".join(rows).encode()


def test_the_password_never_reaches_the_database_in_clear(
    marketing_db: Database, box: SecretBox
) -> None:
    configure(marketing_db, box, url=URL, iam_key=IAM_KEY, password=PASSWORD, active=True)

    stored = raw_stored_text(marketing_db)
    assert IAM_KEY.encode() in stored  # what was just written is there to be read...
    assert PASSWORD.encode() not in stored  # ...but the password is not, in any form
    assert PASSWORD.encode("utf-16-le") not in stored
    with marketing_db.session() as session:
        settings = get_integration(session)
        assert settings is not None
        assert integration_password(settings, box) == PASSWORD


def test_the_first_configuration_needs_url_key_and_password(
    marketing_db: Database, box: SecretBox
) -> None:
    with pytest.raises(InvalidInput, match="iam_key, password are required the first time"):
        configure(marketing_db, box, url=URL, active=True)
    with marketing_db.session() as session:
        assert get_integration(session) is None


def test_a_first_configuration_starts_inactive_as_the_online_community_edition(
    marketing_db: Database, box: SecretBox
) -> None:
    view = configure(marketing_db, box, url=URL + "/", iam_key=IAM_KEY, password=PASSWORD)

    assert view.as_json() == {
        "configured": True,
        "active": False,
        "base_url": URL,
        "iam_key": IAM_KEY,
        "edition": "online-community",
        "password_set": True,
        "updated_at": NOW.isoformat(),
    }


def test_later_changes_touch_only_what_is_given(marketing_db: Database, box: SecretBox) -> None:
    configure(marketing_db, box, url=URL, iam_key=IAM_KEY, password=PASSWORD, active=True)
    token = stored_password_column(marketing_db)

    with marketing_db.transaction() as session:
        configure_integration(
            session, box=box, now=NOW + timedelta(hours=1), active=False, edition="platform"
        )

    with marketing_db.session() as session:
        settings = get_integration(session)
        assert settings is not None
        assert (settings.active, settings.edition) == (False, "platform")
        assert (settings.base_url, settings.iam_key) == (URL, IAM_KEY)
        assert settings.password_encrypted == token
        assert settings.updated_at == NOW + timedelta(hours=1)


def test_a_new_password_replaces_the_stored_one(marketing_db: Database, box: SecretBox) -> None:
    configure(marketing_db, box, url=URL, iam_key=IAM_KEY, password=PASSWORD)

    configure(marketing_db, box, password="second-password")

    with marketing_db.session() as session:
        settings = get_integration(session)
        assert settings is not None and integration_password(settings, box) == "second-password"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": "ftp://community.example.org"}, "url: 'ftp://community.example.org' is not an"),
        ({"url": "community.example.org"}, "is not an http:// or https:// URL with a host"),
        ({"url": "https://"}, "is not an http:// or https:// URL with a host"),
        ({"url": "https://h.example:99999"}, "is not a valid URL"),
        ({"url": "https://h.example/c?x=1"}, "has a query or fragment"),
        ({"url": "https://h.example/a b"}, "contains white space"),
        ({"url": "https://h.example/" + "c" * 500}, "the limit is 500"),
        ({"edition": "enterprise"}, "edition: 'enterprise' is not one of online-community, plat"),
        ({"iam_key": "  "}, "iam_key: must not be empty"),
        ({"iam_key": "k" * 201}, "iam_key: 201 characters long; the limit is 200"),
        ({"password": ""}, "password: must not be empty"),
        ({"password": "pässword"}, "password: use printable ASCII"),
        ({"password": "line\nbreak"}, "password: use printable ASCII"),
    ],
)
def test_bad_values_are_refused_naming_the_field_and_change_nothing(
    marketing_db: Database, box: SecretBox, changes: dict[str, str], message: str
) -> None:
    configure(marketing_db, box, url=URL, iam_key=IAM_KEY, password=PASSWORD)

    with pytest.raises(InvalidInput, match=message.replace("?", r"\?")):
        configure(marketing_db, box, active=True, **changes)

    with marketing_db.session() as session:
        assert IntegrationView.of(get_integration(session)).active is False


def test_a_url_with_credentials_is_refused_without_repeating_them(
    marketing_db: Database, box: SecretBox
) -> None:
    with pytest.raises(InvalidInput, match="url: must not contain a user name or password") as e:
        configure(marketing_db, box, url="https://me:hunter2@h.example", iam_key="k", password="p")

    assert "hunter2" not in str(e.value)


def test_reencrypting_moves_the_password_to_the_newest_key_file_key(
    marketing_db: Database, box: SecretBox
) -> None:
    configure(marketing_db, box, url=URL, iam_key=IAM_KEY, password=PASSWORD)
    old_key = box.newest_key
    box.rotate_keyfile()

    with marketing_db.transaction() as session:
        assert reencrypt_secrets(session, box) == 1

    token = stored_password_column(marketing_db)
    assert Fernet(box.newest_key).decrypt(token).decode() == PASSWORD
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(token)


def test_reencrypting_with_nothing_stored_does_nothing(
    marketing_db: Database, box: SecretBox
) -> None:
    with marketing_db.transaction() as session:
        assert reencrypt_secrets(session, box) == 0


def test_a_password_from_a_lost_key_says_to_configure_it_again(
    marketing_db: Database, box: SecretBox, tmp_path: Path
) -> None:
    configure(marketing_db, box, url=URL, iam_key=IAM_KEY, password=PASSWORD)
    other = SecretBox.from_settings(Settings(data_dir=tmp_path / "other", secret_key="x"))

    with marketing_db.session() as session, pytest.raises(SecretUnreadable) as raised:
        settings = get_integration(session)
        assert settings is not None
        integration_password(settings, other)

    assert "cannot decrypt the connection's password" in str(raised.value)
    assert "kith connection configure --password-stdin" in str(raised.value)
