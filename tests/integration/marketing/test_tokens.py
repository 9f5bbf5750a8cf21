"""Admin API tokens: issuing, authenticating, revoking, and `kith marketing tokens`, on both
backends."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kith.cli import app
from kith.config import get_settings
from kith.db import Database
from kith.errors import AuthenticationFailed, InvalidInput, NotFound
from kith.marketing.tokens import (
    IssuedToken,
    authenticate_token,
    create_token,
    list_tokens,
    revoke_token,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def issued(marketing_db: Database) -> IssuedToken:
    with marketing_db.transaction() as session:
        return create_token(session, name="CRM sync", now=NOW)


def _last_used(db: Database) -> datetime | None:
    with db.session() as session:
        [token] = list_tokens(session)
    return token.last_used_at


def test_a_token_is_stored_only_as_its_sha256_digest(
    marketing_db: Database, issued: IssuedToken
) -> None:
    with marketing_db.session() as session:
        rows = session.execute(text("SELECT * FROM api_tokens")).all()
    [row] = rows
    stored = " ".join(str(value) for value in row)
    assert issued.token.startswith("kith_") and len(issued.token) >= 40
    assert issued.token not in stored
    assert issued.token[len(issued.api_token.prefix) :] not in stored
    assert hashlib.sha256(issued.token.encode()).hexdigest() in stored
    assert issued.api_token.prefix == issued.token[:12]


def test_a_live_token_authenticates_and_others_do_not(
    marketing_db: Database, issued: IssuedToken
) -> None:
    assert authenticate_token(marketing_db, issued.token, now=NOW).name == "CRM sync"
    for wrong in (issued.token[:-1], issued.token + "x", "kith_" + "A" * 43, "Bearer x"):
        with pytest.raises(AuthenticationFailed, match="unknown or revoked"):
            authenticate_token(marketing_db, wrong, now=NOW)
    with pytest.raises(AuthenticationFailed, match="Authorization: Bearer"):
        authenticate_token(marketing_db, None, now=NOW)


def test_a_revoked_token_no_longer_authenticates(
    marketing_db: Database, issued: IssuedToken
) -> None:
    with marketing_db.transaction() as session:
        revoke_token(session, issued.api_token.prefix, now=NOW)
    with pytest.raises(AuthenticationFailed):
        authenticate_token(marketing_db, issued.token, now=NOW + SECOND)


def test_last_used_at_is_written_at_most_once_a_minute(
    marketing_db: Database, issued: IssuedToken
) -> None:
    assert _last_used(marketing_db) is None
    authenticate_token(marketing_db, issued.token, now=NOW)
    assert _last_used(marketing_db) == NOW
    authenticate_token(marketing_db, issued.token, now=NOW + 59 * SECOND)
    assert _last_used(marketing_db) == NOW
    authenticate_token(marketing_db, issued.token, now=NOW + 60 * SECOND)
    assert _last_used(marketing_db) == NOW + 60 * SECOND


def test_revoking_by_name_needs_the_name_to_be_unambiguous(
    marketing_db: Database, issued: IssuedToken
) -> None:
    with marketing_db.transaction() as session:
        second = create_token(session, name="CRM sync", now=NOW)
    with pytest.raises(InvalidInput) as ambiguous, marketing_db.transaction() as session:
        revoke_token(session, "CRM sync", now=NOW)
    assert issued.api_token.prefix in str(ambiguous.value)
    assert second.api_token.prefix in str(ambiguous.value)
    with pytest.raises(NotFound), marketing_db.transaction() as session:
        revoke_token(session, "nobody", now=NOW)
    with marketing_db.transaction() as session:
        revoke_token(session, second.api_token.prefix, now=NOW)
        again = revoke_token(session, second.api_token.prefix, now=NOW + SECOND)
    assert again.revoked_at == NOW
    assert authenticate_token(marketing_db, issued.token, now=NOW).id == issued.api_token.id


def test_a_token_needs_a_name(marketing_db: Database) -> None:
    with pytest.raises(InvalidInput, match="token name"), marketing_db.transaction() as session:
        create_token(session, name="  ", now=NOW)


@pytest.fixture
def kith(
    marketing_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """A runner whose `kith` uses this test's marketing database."""
    monkeypatch.setenv("KITH_MARKETING_DB_URL", marketing_db.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_tokens_create_prints_a_working_token_once(kith: CliRunner, marketing_db: Database) -> None:
    result = kith.invoke(app, ["marketing", "tokens", "create", "--name", "CRM sync"])
    assert result.exit_code == 0, result.output
    assert "will not be shown again" in result.output
    [token] = [word for word in result.output.split() if word.startswith("kith_")]
    assert authenticate_token(marketing_db, token, now=NOW).name == "CRM sync"

    listed = kith.invoke(app, ["marketing", "tokens", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [entry] = orjson.loads(listed.output)
    assert entry["prefix"] == token[:12] and entry["name"] == "CRM sync"
    assert entry["revoked_at"] is None
    assert token not in listed.output
    table = kith.invoke(app, ["marketing", "tokens", "list"])
    assert token[:12] in table.output and token not in table.output


def test_tokens_revoke_stops_the_token_from_authenticating(
    kith: CliRunner, marketing_db: Database
) -> None:
    created = kith.invoke(app, ["marketing", "tokens", "create", "--name", "CRM", "--json"])
    assert created.exit_code == 0, created.output
    issued = orjson.loads(created.output)
    revoked = kith.invoke(app, ["marketing", "tokens", "revoke", issued["prefix"]])
    assert revoked.exit_code == 0, revoked.output
    assert issued["prefix"] in revoked.output
    with pytest.raises(AuthenticationFailed):
        authenticate_token(marketing_db, issued["token"], now=NOW)
    [entry] = orjson.loads(kith.invoke(app, ["marketing", "tokens", "list", "--json"]).output)
    assert entry["revoked_at"] is not None

    unknown = kith.invoke(app, ["marketing", "tokens", "revoke", "kith_nothere"])
    assert unknown.exit_code == 1 and "no API token" in unknown.output
