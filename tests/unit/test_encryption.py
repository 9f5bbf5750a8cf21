"""Secrets at rest: keys from KITH_SECRET_KEY or a private key file, rotation, clear failures."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from kith.config import Settings
from kith.encryption import (
    KEY_FILE_NAME,
    EncryptionKeyError,
    SecretBox,
    SecretUnreadable,
    derive_fernet_key,
)
from kith.errors import Conflict

SECRET = "hl-password-4f1d9c"


def keyfile_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", secret_key=None)


def secret_key_settings(tmp_path: Path, secret_key: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", secret_key=secret_key)


def key_file_keys(path: Path) -> list[bytes]:
    lines = path.read_text().splitlines()
    return [line.encode() for line in lines if line and not line.startswith("#")]


def test_the_key_file_is_created_on_first_use_readable_by_its_owner_only(tmp_path: Path) -> None:
    box = SecretBox.from_settings(keyfile_settings(tmp_path))

    path = tmp_path / "var" / KEY_FILE_NAME
    assert box.key_file == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_file_keys(path) == [box.newest_key]
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE_NAME]  # no temporary left


def test_the_key_file_is_reused_so_a_later_process_decrypts(tmp_path: Path) -> None:
    token = SecretBox.from_settings(keyfile_settings(tmp_path)).encrypt(SECRET)

    assert SecretBox.from_settings(keyfile_settings(tmp_path)).decrypt(token) == SECRET


def test_a_token_hides_the_secret_and_decrypts_to_it(tmp_path: Path) -> None:
    box = SecretBox.from_settings(secret_key_settings(tmp_path, "k1"))

    token = box.encrypt(SECRET)

    assert SECRET not in token
    assert box.decrypt(token) == SECRET
    assert not (tmp_path / "var" / KEY_FILE_NAME).exists()


def test_each_secret_key_item_is_a_derived_fernet_key_newest_first(tmp_path: Path) -> None:
    old_token = SecretBox.from_settings(secret_key_settings(tmp_path, "old")).encrypt(SECRET)
    box = SecretBox.from_settings(secret_key_settings(tmp_path, " new , old "))

    new_token = box.encrypt(SECRET)

    assert box.key_count == 2
    assert box.decrypt(old_token) == SECRET
    assert Fernet(derive_fernet_key("new")).decrypt(new_token).decode() == SECRET
    with pytest.raises(InvalidToken):
        Fernet(derive_fernet_key("old")).decrypt(new_token)


def test_the_derived_key_is_not_the_secret_itself() -> None:
    key = derive_fernet_key("test-secret-key")

    assert key == derive_fernet_key("test-secret-key")
    assert key != derive_fernet_key("test-secret-key2")
    assert b"test-secret-key" not in key


@pytest.mark.parametrize(
    ("secret_key", "signs_with"), [("single", b"single"), ("new, old", b"new")]
)
def test_tokens_are_signed_with_the_first_secret_key(
    tmp_path: Path, secret_key: str, signs_with: bytes
) -> None:
    assert secret_key_settings(tmp_path, secret_key).signing_key() == signs_with


def test_a_token_from_another_key_fails_with_what_to_do(tmp_path: Path) -> None:
    token = SecretBox.from_settings(secret_key_settings(tmp_path, "lost")).encrypt(SECRET)
    box = SecretBox.from_settings(secret_key_settings(tmp_path, "current"))

    with pytest.raises(SecretUnreadable) as raised:
        box.decrypt(token, what="the connection's password", remedy="configure it again")

    message = str(raised.value)
    assert "cannot decrypt the connection's password" in message
    assert "KITH_SECRET_KEY" in message and "changed or been lost" in message
    assert message.endswith("configure it again")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:40] + ("B" if token[40] == "A" else "A") + token[41:],
        lambda token: token[:20],
        lambda token: "not a token at all",
        lambda token: token + "é",
    ],
    ids=["altered", "truncated", "garbage", "non-ascii"],
)
def test_a_tampered_token_is_unreadable_not_a_crash(
    tmp_path: Path, tamper: Callable[[str], str]
) -> None:
    box = SecretBox.from_settings(keyfile_settings(tmp_path))
    token = box.encrypt(SECRET)

    with pytest.raises(SecretUnreadable, match=KEY_FILE_NAME):
        box.decrypt(tamper(token))


def test_rotating_the_key_file_puts_a_new_key_first_and_keeps_the_old(tmp_path: Path) -> None:
    settings = keyfile_settings(tmp_path)
    box = SecretBox.from_settings(settings)
    old_key, old_token = box.newest_key, box.encrypt(SECRET)

    box.rotate_keyfile()

    path = tmp_path / "var" / KEY_FILE_NAME
    new_key = key_file_keys(path)[0]
    assert key_file_keys(path) == [new_key, old_key] and new_key != old_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rotated = box.reencrypt(old_token)
    assert Fernet(new_key).decrypt(rotated).decode() == SECRET
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(rotated)
    reloaded = SecretBox.from_settings(settings)
    assert reloaded.newest_key == new_key and reloaded.decrypt(old_token) == SECRET


def test_rotating_a_key_file_is_refused_when_keys_come_from_the_environment(
    tmp_path: Path,
) -> None:
    box = SecretBox.from_settings(secret_key_settings(tmp_path, "k1"))

    with pytest.raises(Conflict, match=r"KITH_SECRET_KEY=new,old"):
        box.rotate_keyfile()


def test_a_damaged_key_file_names_the_line_at_fault(tmp_path: Path) -> None:
    path = tmp_path / "var" / KEY_FILE_NAME
    path.parent.mkdir()
    path.write_text(f"# keys\n{Fernet.generate_key().decode()}\nnot-a-key\n")

    with pytest.raises(EncryptionKeyError, match="line 3 of the key file"):
        SecretBox.from_settings(keyfile_settings(tmp_path))


def test_an_emptied_key_file_is_not_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "var" / KEY_FILE_NAME
    path.parent.mkdir()
    path.write_text("")

    with pytest.raises(EncryptionKeyError, match="holds no key"):
        SecretBox.from_settings(keyfile_settings(tmp_path))
    assert path.read_text() == ""
