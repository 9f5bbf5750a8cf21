"""`kith connection configure|show|test` and `kith secrets rotate`, against real databases and a
real community API served on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from typer.testing import CliRunner, Result

from kith.cli import app
from kith.community.app import create_community_app
from kith.community.credentials import create_credential
from kith.community.lists import create_list
from kith.config import Settings, get_settings
from kith.db import Database
from kith.encryption import KEY_FILE_NAME, SecretBox, derive_fernet_key
from kith.marketing.integration import get_integration, integration_password
from kith.web.loopback import serve_on_loopback
from tests.support.community_world import NOW, add_list_unchecked, add_member

PASSWORD = "Pw-31c0ffee-never-printed"
URL = "http://h.example"


@dataclass(frozen=True)
class Community:
    """A community API on loopback and a live credential for it."""

    base_url: str
    iam_key: str
    password: str


@pytest.fixture
def kith(
    marketing_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """A runner whose `kith` uses this test's marketing database and a key file of its own."""
    monkeypatch.setenv("KITH_MARKETING_DB_URL", marketing_db.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "cli-var"))
    monkeypatch.delenv("KITH_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def community(community_db: Database, settings: Settings) -> Iterator[Community]:
    """Two lists behind a credential; one failed authentication locks the key (limit 1)."""
    criteria = {"field": "member_type", "op": "eq", "value": "Full"}
    with community_db.transaction() as session:
        add_member(session, "admin", is_super_admin=True)
        issued = create_credential(session, name="Marketing", by="admin", now=NOW)
        for name in ("Informz Posted", "Informz Joined"):
            create_list(session, name=name, criteria=criteria, by="admin", now=NOW)
    api = create_community_app(community_db, settings.model_copy(update={"api_failure_limit": 1}))
    with serve_on_loopback(api) as base_url:
        yield Community(base_url, issued.credential.iam_key, issued.password)


def kith_run(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def configure(runner: CliRunner, url: str, iam_key: str, password: str, *flags: str) -> None:
    result = kith_run(
        runner,
        "connection",
        "configure",
        "--url",
        url,
        "--iam-key",
        iam_key,
        "--password",
        password,
        *flags,
    )
    assert result.exit_code == 0, result.output


def connection_test(runner: CliRunner) -> tuple[int, dict[str, Any]]:
    result = kith_run(runner, "connection", "test", "--json")
    return result.exit_code, orjson.loads(result.stdout)


def stored_token(db: Database) -> str:
    with db.session() as session:
        settings = get_integration(session)
        assert settings is not None
        return settings.password_encrypted


def stored_password(db: Database) -> str:
    with db.session() as session:
        settings = get_integration(session)
        assert settings is not None
        return integration_password(settings, SecretBox.from_settings(get_settings()))


def key_file_keys(path: Path) -> list[bytes]:
    return [line.encode() for line in path.read_text().splitlines() if not line.startswith("#")]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# configure and show


def test_configure_and_show_never_print_the_password(kith: CliRunner) -> None:
    configured = kith_run(
        kith,
        "connection",
        "configure",
        "--url",
        "https://community.example.org/community/",
        "--iam-key",
        "K-1",
        "--password",
        PASSWORD,
        "--active",
        "--edition",
        "platform",
    )
    shown = kith_run(kith, "connection", "show")
    shown_json = kith_run(kith, "connection", "show", "--json")

    assert configured.exit_code == shown.exit_code == shown_json.exit_code == 0
    assert orjson.loads(shown_json.stdout) | {"updated_at": None} == {
        "configured": True,
        "active": True,
        "base_url": "https://community.example.org/community",
        "iam_key": "K-1",
        "edition": "platform",
        "password_set": True,
        "updated_at": None,
    }
    assert "set (encrypted)" in shown.stdout
    for output in (configured.output, shown.output, shown_json.output):
        assert PASSWORD not in output


def test_a_first_configuration_without_password_asks_for_it_without_echo(
    kith: CliRunner, marketing_db: Database
) -> None:
    result = kith_run(
        kith,
        "connection",
        "configure",
        "--url",
        URL,
        "--iam-key",
        "K",
        input=PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert "Password (HLPassword)" in result.output and PASSWORD not in result.output
    assert stored_password(marketing_db) == PASSWORD


def test_the_password_can_come_from_standard_input(kith: CliRunner, marketing_db: Database) -> None:
    result = kith_run(
        kith,
        "connection",
        "configure",
        "--url",
        URL,
        "--iam-key",
        "K",
        "--password-stdin",
        input=PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert stored_password(marketing_db) == PASSWORD


def test_inactive_alone_switches_the_connection_off_and_keeps_the_rest(
    kith: CliRunner, marketing_db: Database
) -> None:
    configure(kith, URL, "K", PASSWORD, "--active")
    token = stored_token(marketing_db)

    result = kith_run(kith, "connection", "configure", "--inactive", "--json")

    assert result.exit_code == 0, result.output
    shown = orjson.loads(result.stdout)
    assert (shown["active"], shown["base_url"], shown["iam_key"]) == (False, URL, "K")
    assert stored_token(marketing_db) == token


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--url", "ftp://h.example", "url: 'ftp://h.example' is not an http:// or https:// URL"),
        ("--edition", "enterprise", "edition: 'enterprise' is not one of online-community, plat"),
    ],
)
def test_a_bad_url_or_edition_exits_1_naming_it_and_saves_nothing(
    kith: CliRunner, option: str, value: str, message: str
) -> None:
    base = {"--url": URL, "--edition": "platform"} | {option: value}
    result = kith_run(
        kith,
        "connection",
        "configure",
        "--iam-key",
        "K",
        "--password",
        PASSWORD,
        *(part for pair in base.items() for part in pair),
    )

    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    shown = kith_run(kith, "connection", "show", "--json")
    assert orjson.loads(shown.stdout)["configured"] is False


# test


def test_the_right_credential_sees_the_lists(kith: CliRunner, community: Community) -> None:
    configure(kith, community.base_url, community.iam_key, community.password, "--active")

    code, report = connection_test(kith)
    text = kith_run(kith, "connection", "test")

    assert (code, report) == (0, {"ok": True, "base_url": community.base_url, "list_count": 2})
    assert text.exit_code == 0 and "the credentials see 2 lists" in text.stdout


def test_a_list_the_community_cannot_count_does_not_fail_the_test(
    kith: CliRunner, community: Community, community_db: Database
) -> None:
    too_large = {"any": [{"field": "member_type", "op": "eq", "value": "Full"}] * 150}
    with community_db.transaction() as session:
        add_list_unchecked(session, "Informz Saved Before The Limits", too_large)
    configure(kith, community.base_url, community.iam_key, community.password, "--active")

    code, report = connection_test(kith)

    assert (code, report) == (0, {"ok": True, "base_url": community.base_url, "list_count": 3})


def test_a_wrong_password_is_unauthorized_then_throttled(
    kith: CliRunner, community: Community
) -> None:
    configure(kith, community.base_url, community.iam_key, "wrong-password", "--active")

    first_code, first = connection_test(kith)
    second_code, second = connection_test(kith)
    third = kith_run(kith, "connection", "test")

    assert (first_code, first["reason"]) == (1, "unauthorized")
    assert first["detail"] == "authentication failed: check the HLIAMKey and HLPassword headers"
    assert "HTTP 401" in first["message"] and community.iam_key in first["message"]
    assert (second_code, second["reason"]) == (1, "throttled")
    assert 0 < second["retry_after"] <= 300
    assert second["detail"].startswith("too many failed authentications for this IAM key")
    assert third.exit_code == 1 and third.stderr.startswith("error: throttled:")


def test_a_closed_port_is_unreachable(kith: CliRunner) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    configure(kith, url, "K", PASSWORD, "--active")

    code, report = connection_test(kith)

    assert (code, report["reason"]) == (1, "unreachable")
    assert report["message"].startswith(f"cannot reach the community API at {url}/api/v1/lists: ")
    assert report["detail"] and report["detail"] in report["message"]


def test_an_inactive_connection_is_not_called(kith: CliRunner, community: Community) -> None:
    configure(kith, community.base_url, community.iam_key, community.password, "--inactive")

    code, report = connection_test(kith)

    assert (code, report["reason"]) == (1, "inactive")
    assert "--active" in report["message"]


def test_an_unconfigured_connection_says_so(kith: CliRunner) -> None:
    code, report = connection_test(kith)

    assert (code, report["reason"]) == (1, "not_configured")


def test_a_url_the_api_is_not_under_is_unexpected_with_a_hint(
    kith: CliRunner, community: Community
) -> None:
    url = community.base_url + "/community"
    configure(kith, url, community.iam_key, community.password, "--active")

    code, report = connection_test(kith)

    assert (code, report["reason"]) == (1, "unexpected")
    assert "HTTP 404" in report["detail"]
    assert f"is {url} the URL the community's /api/v1 is under?" in report["detail"]


def test_a_server_that_answers_html_is_unexpected(kith: CliRunner) -> None:
    login_page = FastAPI()
    login_page.get("/api/v1/lists", response_class=HTMLResponse)(lambda: "<html>Log in</html>")
    with serve_on_loopback(login_page) as url:
        configure(kith, url, "K", PASSWORD, "--active")
        code, report = connection_test(kith)

    assert (code, report["reason"]) == (1, "unexpected")
    assert report["detail"] == "the body is not JSON: '<html>Log in</html>'"


# secrets rotate


def test_rotating_adds_a_key_file_key_and_reencrypts_the_password_with_it(
    kith: CliRunner, marketing_db: Database, tmp_path: Path
) -> None:
    configure(kith, URL, "K", PASSWORD)
    key_file = tmp_path / "cli-var" / KEY_FILE_NAME
    [old_key] = key_file_keys(key_file)
    old_token = stored_token(marketing_db)

    result = kith_run(kith, "secrets", "rotate", "--json")

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert (report["new_key"], report["keys"], report["reencrypted"]) == (True, 2, 1)
    new_key, kept_key = key_file_keys(key_file)
    assert kept_key == old_key != new_key
    new_token = stored_token(marketing_db)
    assert Fernet(new_key).decrypt(new_token).decode() == PASSWORD
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(new_token)
    assert SecretBox.from_settings(get_settings()).decrypt(old_token) == PASSWORD


def test_rotating_with_secret_keys_reencrypts_to_the_first(
    kith: CliRunner, marketing_db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KITH_SECRET_KEY", "old")
    get_settings.cache_clear()
    configure(kith, URL, "K", PASSWORD)
    monkeypatch.setenv("KITH_SECRET_KEY", "new,old")
    get_settings.cache_clear()

    result = kith_run(kith, "secrets", "rotate")

    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 stored secret with the newest key" in " ".join(result.stdout.split())
    token = stored_token(marketing_db)
    assert Fernet(derive_fernet_key("new")).decrypt(token).decode() == PASSWORD
    with pytest.raises(InvalidToken):
        Fernet(derive_fernet_key("old")).decrypt(token)
    assert not (tmp_path / "cli-var" / KEY_FILE_NAME).exists()
