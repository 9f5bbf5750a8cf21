"""A real IMAP and POP3 server on loopback for tests: Debian's Dovecot (`dovecot-imapd`,
`dovecot-pop3d`, which .ci/run installs), started with a configuration of the test's own.

`dovecot_server` gives a running server with one user and TLS on both protocols (a
self-signed certificate for 127.0.0.1, which its `client_context` trusts); it is stopped after
the test. Without the binary (or when it cannot start here) the test is skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOVECOT = Path("/usr/sbin/dovecot")
HOST = "127.0.0.1"
USER, PASSWORD = "bounces", "mailbox-secret"


@dataclass(frozen=True)
class DovecotServer:
    imaps_port: int
    pop3s_port: int
    client_context: ssl.SSLContext
    cert_file: Path  # the certificate, to trust it by SSL_CERT_FILE in another process

    def imaps_url(self, folder: str = "INBOX") -> str:
        return f"imaps://{USER}:{PASSWORD}@{HOST}:{self.imaps_port}/{folder}"

    def pop3s_url(self) -> str:
        return f"pop3s://{USER}:{PASSWORD}@{HOST}:{self.pop3s_port}"

    def deliver(self, *messages: bytes) -> None:
        """Put messages in the user's INBOX (IMAP APPEND), as the MTA's delivery would."""
        with imaplib.IMAP4_SSL(HOST, self.imaps_port, ssl_context=self.client_context) as imap:
            imap.login(USER, PASSWORD)
            for raw in messages:
                imap.append("INBOX", None, None, raw)

    def inbox(self) -> list[bytes]:
        """The INBOX's messages that are not deleted."""
        with imaplib.IMAP4_SSL(HOST, self.imaps_port, ssl_context=self.client_context) as imap:
            imap.login(USER, PASSWORD)
            imap.select("INBOX")
            _, found = imap.uid("SEARCH", "UNDELETED")
            uids = found[0].decode().split() if found[0] else []
            contents = []
            for uid in uids:
                _, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                contents += [part[1] for part in data if isinstance(part, tuple)]
            return contents


@pytest.fixture
def dovecot_server() -> Iterator[DovecotServer]:
    if not DOVECOT.exists():
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd dovecot-pop3d)")
    if os.geteuid() != 0:
        pytest.skip("Dovecot's master process must start as root to run its login processes")
    # not under pytest's tmp_path: Dovecot's own users (dovecot, nobody) must reach the folder
    folder = Path(tempfile.mkdtemp(prefix="kith-dovecot-"))
    folder.chmod(0o755)
    try:
        yield from _served(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _served(folder: Path) -> Iterator[DovecotServer]:
    cert, key, client = _certificate(folder)
    mail = folder / "mail"
    mail.mkdir()
    shutil.chown(mail, "nobody", "nogroup")
    (folder / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    imaps, pop3s = _free_port(), _free_port()
    config = folder / "dovecot.conf"
    config.write_text(
        f"""
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap pop3
listen = {HOST}
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    )
    server = subprocess.Popen(
        [str(DOVECOT), "-F", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(imaps, pop3s, server, folder)
        yield DovecotServer(imaps, pop3s, client, cert)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for(imaps: int, pop3s: int, server: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read().decode() if server.stdout else ""
            log = (folder / "dovecot.log").read_text() if (folder / "dovecot.log").exists() else ""
            pytest.skip(f"Dovecot could not start here: {output}{log}".strip())
        try:
            for port in (imaps, pop3s):
                socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("Dovecot did not listen within 10 seconds")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _certificate(folder: Path) -> tuple[Path, Path, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailbox.kith.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, ssl.create_default_context(cafile=str(cert_file))
