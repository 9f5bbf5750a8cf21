"""Secrets Kith must send again (the connection's IAM password), encrypted at rest with Fernet.

Passwords people type are hashed (Argon2); these cannot be, because Kith has to present them to
another system. They are encrypted with a MultiFernet, so that a new key can take over while
older ones still decrypt what they encrypted until `kith secrets rotate` re-encrypts it.

Where the keys come from, newest first:

- `KITH_SECRET_KEY`, a comma-separated list of secrets. Each secret becomes a Fernet key as
  urlsafe-base64(HKDF-SHA256(secret, salt=none, info="kith encryption at rest v1", 32 bytes)).
  The label keeps the encryption key apart from the signing key, which is the secret itself.
  An operator rotates by putting a new secret first (`KITH_SECRET_KEY=new,old`) and running
  `kith secrets rotate`; the old secret can be dropped once that has run.
- otherwise the key file `<data dir>/encryption.keys`, one Fernet key a line, created with mode
  0600 on first use. `kith secrets rotate` puts a newly generated key at its top.

Losing the keys loses the secrets: they cannot be recovered, only entered again.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kith.config import Settings
from kith.erasures import keyed_digest
from kith.errors import Conflict, KithError
from kith.private_files import create_private_file, locked, replace_private_file

KEY_FILE_NAME = "encryption.keys"
KEY_DERIVATION_INFO = b"kith encryption at rest v1"
SECRET_KEY_SOURCE = "KITH_SECRET_KEY"
_KEY_FILE_HEADER = (
    "# Kith encryption keys, newest first: one Fernet key a line.\n"
    "# Back this file up with the databases; without it the stored secrets cannot be read.\n"
)


class SecretUnreadable(KithError):
    """A stored secret none of the current keys decrypts: its key was changed or lost."""

    http_status = 409


class EncryptionKeyError(KithError):
    """The keys themselves cannot be used (a damaged key file, an empty KITH_SECRET_KEY...)."""

    http_status = 500


def derive_fernet_key(secret: str) -> bytes:
    """The Fernet key one KITH_SECRET_KEY secret stands for (see the module docstring).

    HKDF adds no strength to a guessable secret: use a long random one, such as
    `python -c "import secrets; print(secrets.token_urlsafe(32))"`.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_DERIVATION_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


class SecretBox:
    """Encrypts and decrypts stored secrets with the configured keys, newest first."""

    def __init__(self, keys: Sequence[bytes], *, source: str, key_file: Path | None = None) -> None:
        if not keys:
            raise EncryptionKeyError(f"no encryption key in {source}")
        self._keys = list(keys)
        self._fernet = MultiFernet(Fernet(key) for key in self._keys)
        self.source = source
        self.key_file = key_file

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """The keys of KITH_SECRET_KEY when it is set, else those of the key file.

        The key file is created, with one new key, the first time it is needed.
        """
        if settings.secret_keys:
            keys = [derive_fernet_key(secret) for secret in settings.secret_keys]
            return cls(keys, source=SECRET_KEY_SOURCE)
        path = settings.data_dir / KEY_FILE_NAME
        if not path.exists():
            _create_key_file(path)
        return cls(_read_key_file(path), source=f"the key file {path}", key_file=path)

    @property
    def key_count(self) -> int:
        return len(self._keys)

    @property
    def newest_key(self) -> bytes:
        """The key that encrypts; the others only decrypt."""
        return self._keys[0]

    def person_digests(self, kind: str, value: str) -> list[str]:
        """The keyed digests of an erased person's email key or Remote ID (kith.erasures), one
        per key, newest first: an erase stores the first, a look-up matches any of them."""
        return [keyed_digest(key, kind, value) for key in self._keys]

    def encrypt(self, text: str) -> str:
        """A Fernet token (ASCII) for `text`, made with the newest key."""
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def decrypt(
        self, token: str, *, what: str = "a stored secret", remedy: str = "enter it again"
    ) -> str:
        """The text a token holds, or SecretUnreadable naming `what` and how to recover."""
        try:
            return self._fernet.decrypt(token).decode()
        except (InvalidToken, ValueError):
            raise self._unreadable(what, remedy) from None

    def reencrypt(
        self, token: str, *, what: str = "a stored secret", remedy: str = "enter it again"
    ) -> str:
        """The same secret encrypted with the newest key, so that older keys can be retired."""
        try:
            return self._fernet.rotate(token).decode("ascii")
        except (InvalidToken, ValueError):
            raise self._unreadable(what, remedy) from None

    def rotate_keyfile(self) -> None:
        """Generate a key, put it at the top of the key file and encrypt with it from now on.

        The older keys stay in the file: secrets still encrypted with them stay readable until
        they are re-encrypted. With KITH_SECRET_KEY set there is no key file to rotate.
        """
        if self.key_file is None:
            raise Conflict(
                f"the encryption keys come from {SECRET_KEY_SOURCE}, not from a key file: rotate "
                f"by putting a new secret first ({SECRET_KEY_SOURCE}=new,old) on every machine, "
                "then re-encrypt the stored secrets with `kith secrets rotate`"
            )
        with locked(self.key_file):
            keys = [Fernet.generate_key(), *_read_key_file(self.key_file)]
            replace_private_file(self.key_file, _key_file_text(keys))
        self._keys = keys
        self._fernet = MultiFernet(Fernet(key) for key in keys)

    def _unreadable(self, what: str, remedy: str) -> SecretUnreadable:
        return SecretUnreadable(
            f"cannot decrypt {what}: none of the encryption keys in {self.source} opens it, so "
            f"the key it was encrypted with has changed or been lost. Restore that key (after "
            f"the newest one), or {remedy}"
        )


def _key_file_text(keys: Sequence[bytes]) -> str:
    return _KEY_FILE_HEADER + "".join(key.decode("ascii") + "\n" for key in keys)


def _read_key_file(path: Path) -> list[bytes]:
    keys = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            Fernet(text)
        except ValueError:
            raise EncryptionKeyError(
                f"line {number} of the key file {path} is not a Fernet key "
                "(32 bytes in urlsafe base64); restore the file from a backup"
            ) from None
        keys.append(text.encode("ascii"))
    if not keys:
        raise EncryptionKeyError(
            f"the key file {path} holds no key; restore it from a backup, or delete it to start "
            "with a new key (secrets stored so far must then be entered again)"
        )
    return keys


def _create_key_file(path: Path) -> None:
    """Create the key file with one new key, unless another process has just done so."""
    create_private_file(path, _key_file_text([Fernet.generate_key()]))
