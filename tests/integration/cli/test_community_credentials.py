"""`kith community credentials create|list|revoke` against a real database."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from typer.testing import CliRunner

from kith.cli import app
from kith.community.credentials import authenticate
from kith.config import Settings, get_settings
from kith.db import Database
from kith.errors import AuthenticationFailed
from tests.support.community_world import NOW, add_member

ADDRESS = "192.0.2.1"  # where the API calls of these tests come from


@pytest.fixture
def kith(
    community_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """A runner whose `kith` uses this test's community database."""
    with community_db.transaction() as session:
        add_member(session, "admin", email="admin@example.org", is_super_admin=True)
        add_member(session, "plain", email="plain@example.org")
    monkeypatch.setenv("KITH_COMMUNITY_DB_URL", community_db.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_create_prints_a_working_key_and_password_once(
    kith: CliRunner, community_db: Database, settings: Settings
) -> None:
    result = kith.invoke(
        app, ["community", "credentials", "create", "--name", "M", "--by", "admin"]
    )
    assert result.exit_code == 0, result.output
    assert "will not be shown again" in result.output
    lines = dict(line.split(":", 1) for line in result.output.splitlines() if line.startswith("HL"))
    key, password = lines["HLIAMKey"].strip(), lines["HLPassword"].strip()
    assert (
        authenticate(community_db, key, password, source=ADDRESS, now=NOW, settings=settings).name
        == "M"
    )

    listed = kith.invoke(app, ["community", "credentials", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [entry] = orjson.loads(listed.output)
    assert entry["iam_key"] == key and entry["created_by"] == "admin"
    assert password not in listed.output


def test_a_member_who_is_not_a_super_admin_cannot_create_a_credential(kith: CliRunner) -> None:
    result = kith.invoke(
        app, ["community", "credentials", "create", "--name", "M", "--by", "plain"]
    )
    assert result.exit_code == 1
    assert "not a Super Admin" in result.output
    assert (
        orjson.loads(kith.invoke(app, ["community", "credentials", "list", "--json"]).output) == []
    )


def test_revoke_stops_the_credential_from_authenticating(
    kith: CliRunner, community_db: Database, settings: Settings
) -> None:
    created = kith.invoke(
        app, ["community", "credentials", "create", "--name", "M", "--by", "admin", "--json"]
    )
    issued = orjson.loads(created.output)
    revoked = kith.invoke(
        app, ["community", "credentials", "revoke", issued["iam_key"], "--by", "admin@example.org"]
    )
    assert revoked.exit_code == 0, revoked.output
    with pytest.raises(AuthenticationFailed):
        authenticate(
            community_db,
            issued["iam_key"],
            issued["password"],
            source=ADDRESS,
            now=NOW,
            settings=settings,
        )
    unknown = kith.invoke(app, ["community", "credentials", "revoke", "nope", "--by", "admin"])
    assert unknown.exit_code == 1 and "no API credential" in unknown.output
