"""Mail delivery (kith.marketing.mailings.smtp_sender, .outbox) through a real SMTP server and
the outbox."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import threading
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from bench.mail_floor import floor_send, small_messages
from kith.cli import app
from kith.config import get_settings
from kith.errors import InvalidInput
from kith.marketing.mailings.mime import message_bytes
from kith.marketing.mailings.outbox import OutboxTransport, list_outbox
from kith.marketing.mailings.smtp import transport_from
from kith.marketing.mailings.smtp_sender import SmtpTransport, SmtpUnavailable
from kith.marketing.mailings.smtp_url import SmtpConfig, parse_smtp_url
from kith.marketing.mailings.transport import DeliveryResult
from tests.support.smtp_sink import ReceivedMessage, SmtpSink

SENDER = "news@kith.example"


def make_message(recipient: str, subject: str = "Hello", body: str = "Hi there.\n") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Kith News <{SENDER}>"
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash((recipient, subject)))}@kith.example>"
    message["Date"] = format_datetime(dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC))
    message["List-Unsubscribe"] = "<https://kith.example/u/abc>, <mailto:unsub@kith.example>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    return message


class Sleeps(list[float]):
    """Stands in for time.sleep: records the backoff waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def send(transport: SmtpTransport, *recipients: str) -> list[DeliveryResult]:
    with transport.open() as sender:
        return [
            sender.send(make_message(to), sender=SENDER, recipient=to, key=f"k{index}")
            for index, to in enumerate(recipients)
        ]


# --- KITH_SMTP_URL ----------------------------------------------------------------------------


def test_a_full_url_gives_user_password_host_port_and_options() -> None:
    config = parse_smtp_url(
        "smtp://news%40kith.example:p%40ss%2Fw%3Frd@Mail.Example.org:587"
        "?tls=starttls&connections=8&timeout=30&retries=5&backoff=0.5"
    )
    assert config == SmtpConfig(
        host="mail.example.org",
        port=587,
        username="news@kith.example",
        password="p@ss/w?rd",
        tls="starttls",
        connections=8,
        timeout_seconds=30.0,
        retries=5,
        backoff_seconds=0.5,
    )


@pytest.mark.parametrize(
    ("url", "tls", "port"),
    [
        ("smtp://mail.example.org:25", "none", 25),
        ("smtp://mail.example.org", "none", 25),
        ("smtp://mail.example.org?tls=starttls", "starttls", 587),
        ("smtps://mail.example.org", "ssl", 465),
        ("smtp://mail.example.org?tls=ssl", "ssl", 465),
        ("SMTPS://mail.example.org:2465", "ssl", 2465),
    ],
)
def test_tls_mode_and_default_port_follow_the_scheme_and_option(
    url: str, tls: str, port: int
) -> None:
    config = parse_smtp_url(url)
    assert (config.tls, config.port, config.username, config.password) == (tls, port, None, None)
    assert (config.connections, config.retries, config.backoff_seconds) == (4, 3, 1.0)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.org", "must start with smtp:// or smtps://"),
        ("smtp://:25", "the host is missing"),
        ("smtp://mail.example.org:http", "the port must be a number"),
        ("smtp://mail.example.org:70000", "the port must be a number"),
        (
            "smtp://mail.example.org?tls=maybe",
            "tls must be one of none, starttls, ssl, not 'maybe'",
        ),
        ("smtps://mail.example.org?tls=starttls", "tls=starttls contradicts it"),
        ("smtp://mail.example.org?connections=0", "connections must be a whole number from 1"),
        ("smtp://mail.example.org?timeout=soon", "timeout must be a number at least"),
        ("smtp://mail.example.org?backoff=nan", "backoff must be a number from 0.0"),
        ("smtp://mail.example.org?colour=blue", "an unknown option; the options are tls,"),
        ("smtp://mail.example.org?tls=ssl&tls=none", "the option tls is given twice"),
        ("smtp://:secret@mail.example.org", "a password is given without a user name"),
        ("smtp://mail.example.org/relay", "unexpected text after the host"),
    ],
)
def test_a_bad_url_is_refused_naming_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_smtp_url(url)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "url",
    [
        "smtp://news:Tr0ub4dor/3xyz@mail.example.org:587",  # '/' not encoded
        "smtp://news:Tr0ub4dor?3xyz@mail.example.org:587",  # '?' not encoded
        "smtp://news:Tr0ub4dor#3xyz@mail.example.org:587",  # '#' not encoded
        "smtp://news:Tr0ub4dor3xyz",  # the host forgotten: the password reads as a port
        "smtp://news:4711?Tr0ub4dor3xyz",  # digits, then '?': the rest reads as an option
        "smtp://news:Tr0ub4dor3xyz@mail.example.org:587?tls=bogus",
        "smtp://news:Tr0ub4dor3xyz@mail.example.org:587?connections=-1",
    ],
)
def test_an_error_never_shows_the_password_or_a_piece_of_it(url: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_smtp_url(url)
    for piece in ("Tr0ub4dor", "3xyz", "4711"):
        assert piece not in str(error.value)


def test_a_user_or_password_outside_ascii_is_refused_as_smtp_cannot_log_in_with_it() -> None:
    with pytest.raises(InvalidInput, match="the password must be made of ASCII") as error:
        parse_smtp_url("smtp://news:p%C3%A4sswort@mail.example.org")
    assert "päss" not in str(error.value)
    with pytest.raises(InvalidInput, match="the user name must be made of ASCII"):
        SmtpConfig(host="mail.example.org", port=25, username="jürgen", password="x")


def test_the_parsed_password_stays_out_of_repr_and_description() -> None:
    config = parse_smtp_url("smtp://news:Tr0ub4dor3xyz@mail.example.org:587?tls=starttls")
    assert config.password == "Tr0ub4dor3xyz"
    assert "Tr0ub4dor3xyz" not in repr(config)
    assert config.describe() == "smtp://news@mail.example.org:587?tls=starttls"


def test_transport_from_gives_smtp_for_a_url_and_the_outbox_without(tmp_path: Path) -> None:
    smtp = transport_from("smtp://mail.example.org:2525?connections=6", tmp_path)
    assert isinstance(smtp, SmtpTransport)
    assert (smtp.config.port, smtp.connections) == (2525, 6)
    for unset in (None, ""):
        outbox = transport_from(unset, tmp_path)
        assert isinstance(outbox, OutboxTransport)
        assert outbox.folder == tmp_path / "outbox"


# --- SMTP -------------------------------------------------------------------------------------


def test_a_message_arrives_with_its_envelope_headers_and_body_byte_for_byte(
    smtp_sink: SmtpSink,
) -> None:
    # a line that starts with a dot must survive SMTP's dot-stuffing; the subject needs encoding
    message = make_message("ann@example.org", "Ünïcode news", "Hello Ann,\n.hidden dot\n.\nBye\n")
    with SmtpTransport(smtp_sink.config()).open() as sender:
        result = sender.send(message, sender=SENDER, recipient="ann@example.org", key="m1-1")

    assert result == DeliveryResult("sent", "250 OK", 1)
    [received] = smtp_sink.messages
    assert (received.sender, received.recipients) == (SENDER, ("ann@example.org",))
    assert received.raw == message_bytes(message)
    assert b"\r\n" in received.raw and b"\n" not in received.raw.replace(b"\r\n", b"")
    assert received.message["Subject"] == "Ünïcode news"
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = received.message.get_body(("plain",))
    assert body is not None and body.get_content() == "Hello Ann,\n.hidden dot\n.\nBye\n"


def test_pre_rendered_bytes_are_sent_as_they_are(smtp_sink: SmtpSink) -> None:
    raw = message_bytes(make_message("bo@example.org"))
    with SmtpTransport(smtp_sink.config()).open() as sender:
        sender.send(raw, sender=SENDER, recipient="bo@example.org", key="m1-2")
    assert [m.raw for m in smtp_sink.messages] == [raw]


def test_one_sender_reuses_one_connection_for_many_messages(smtp_sink: SmtpSink) -> None:
    recipients = [f"member{n}@example.org" for n in range(20)]
    results = send(SmtpTransport(smtp_sink.config()), *recipients)

    assert {r.status for r in results} == {"sent"}
    assert [m.recipients[0] for m in smtp_sink.messages] == recipients
    assert smtp_sink.connections == 1


def test_senders_in_their_own_threads_deliver_in_parallel() -> None:
    threads_count, per_thread = 4, 3
    with SmtpSink(delay=0.2) as sink:
        transport = SmtpTransport(sink.config(connections=threads_count))
        start = threading.Barrier(threads_count)
        results: list[DeliveryResult] = []

        def work(thread: int) -> None:
            with transport.open() as sender:
                start.wait(timeout=10)
                for n in range(per_thread):
                    to = f"t{thread}-{n}@example.org"
                    results.append(
                        sender.send(make_message(to), sender=SENDER, recipient=to, key=to)
                    )

        threads = [threading.Thread(target=work, args=(t,)) for t in range(transport.connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        messages = sink.messages

    assert len(results) == threads_count * per_thread
    assert {r.status for r in results} == {"sent"}
    assert sink.connections == threads_count
    assert sink.max_in_flight == threads_count  # all four connections held a message at once
    by_thread: dict[str, set[int]] = {}
    for received in messages:
        by_thread.setdefault(received.recipients[0].split("-")[0], set()).add(received.connection)
    assert sorted(len(connections) for connections in by_thread.values()) == [1, 1, 1, 1]


def test_a_connection_the_server_dropped_is_opened_again_once(smtp_sink: SmtpSink) -> None:
    with SmtpTransport(smtp_sink.config()).open() as sender:
        first = sender.send(
            make_message("a@example.org"), sender=SENDER, recipient="a@example.org", key="a"
        )
        smtp_sink.close_connections()
        second = sender.send(
            make_message("b@example.org"), sender=SENDER, recipient="b@example.org", key="b"
        )

    assert (first.status, second.status, second.attempts) == ("sent", "sent", 1)
    assert [m.connection for m in smtp_sink.messages] == [1, 2]


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_temporary_refusal_is_retried_with_exponential_backoff_until_accepted(
    smtp_sink: SmtpSink, stage: Any
) -> None:
    smtp_sink.defer("ann@example.org", times=2, stage=stage)
    sleeps = Sleeps()
    transport = SmtpTransport(smtp_sink.config(backoff_seconds=0.25), sleep=sleeps)

    [result] = send(transport, "ann@example.org")

    assert (result.status, result.attempts) == ("sent", 3)
    assert sleeps == [0.25, 0.5]
    assert [m.recipients for m in smtp_sink.messages] == [("ann@example.org",)]


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_temporary_refusal_that_lasts_defers_the_message_with_the_last_reply(
    smtp_sink: SmtpSink, stage: Any
) -> None:
    smtp_sink.defer("full@example.org", None, reply="452 4.2.2 mailbox full", stage=stage)
    sleeps = Sleeps()
    transport = SmtpTransport(smtp_sink.config(retries=3, backoff_seconds=1.0), sleep=sleeps)

    deferred, after = send(transport, "full@example.org", "next@example.org")

    assert deferred == DeliveryResult("deferred", "452 4.2.2 mailbox full", 4)
    assert sleeps == [1.0, 2.0, 4.0]
    assert after.status == "sent"  # the same connection goes on with the next message
    assert [(m.recipients, m.connection) for m in smtp_sink.messages] == [
        (("next@example.org",), 1)
    ]


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_permanent_refusal_fails_at_once_with_the_server_text(
    smtp_sink: SmtpSink, stage: Any
) -> None:
    smtp_sink.reject("gone@example.org", stage=stage)
    sleeps = Sleeps()

    failed, after = send(
        SmtpTransport(smtp_sink.config(), sleep=sleeps), "gone@example.org", "ok@example.org"
    )

    assert failed == DeliveryResult("failed", "550 5.1.1 no such user", 1)
    assert sleeps == []
    assert after.status == "sent"
    assert [(m.recipients, m.connection) for m in smtp_sink.messages] == [(("ok@example.org",), 1)]


def test_an_address_outside_ascii_goes_with_smtputf8(smtp_sink: SmtpSink) -> None:
    [result] = send(SmtpTransport(smtp_sink.config()), "renée@exämple.org")
    assert result.status == "sent"
    assert smtp_sink.messages[0].recipients == ("renée@exämple.org",)


def test_an_address_with_a_line_break_is_refused_before_anything_is_sent(
    smtp_sink: SmtpSink,
) -> None:
    with SmtpTransport(smtp_sink.config()).open() as sender, pytest.raises(InvalidInput):
        sender.send(
            make_message("a@example.org"),
            sender=SENDER,
            recipient="a@example.org>\r\nRCPT TO:<b@example.org",
            key="x",
        )
    assert smtp_sink.messages == []


def test_the_sink_calls_back_on_the_nth_message_before_answering(smtp_sink: SmtpSink) -> None:
    seen: list[ReceivedMessage] = []

    def look(received: ReceivedMessage) -> None:
        seen.append(received)

    smtp_sink.on_message(2, look)
    smtp_sink.on_message(3, lambda received: "554 5.7.1 refused by the test")

    results = send(
        SmtpTransport(smtp_sink.config()), "a@example.org", "b@example.org", "c@example.org"
    )

    assert [m.recipients for m in seen] == [("b@example.org",)]
    assert [r.status for r in results] == ["sent", "sent", "failed"]
    assert results[2].detail == "554 5.7.1 refused by the test"
    assert [m.recipients[0] for m in smtp_sink.messages] == ["a@example.org", "b@example.org"]


PASSWORD = "p ss:/@w%rd#?"


def test_a_login_with_the_right_password_delivers_and_a_wrong_one_stops_the_sender() -> None:
    with SmtpSink(users={"news": PASSWORD}) as sink:
        config = parse_smtp_url(sink.url("news", quote(PASSWORD, safe="")))
        right = SmtpTransport(SmtpConfig(**{**vars(config), "backoff_seconds": 0.0}))
        [result] = send(right, "ann@example.org")
        wrong = SmtpTransport(sink.config(username="news", password="not it"))
        with pytest.raises(SmtpUnavailable) as error:
            send(wrong, "bo@example.org")
        messages = sink.messages

    assert result.status == "sent"
    assert [(m.recipients, m.login) for m in messages] == [(("ann@example.org",), "news")]
    assert "535" in str(error.value) and "'news'" in str(error.value)
    assert "not it" not in str(error.value)


# --- TLS, with a certificate of our own -------------------------------------------------------


@pytest.fixture(scope="module")
def tls_contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: (the server's context, a client trusting it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sink.kith.test")])
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
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_delivers_encrypted_and_logs_in(
    tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext], mode: str
) -> None:
    server, client = tls_contexts
    starttls, implicit_tls = (server, None) if mode == "starttls" else (None, server)
    with SmtpSink(users={"news": PASSWORD}, starttls=starttls, implicit_tls=implicit_tls) as sink:
        config = sink.config(username="news", password=PASSWORD)
        [result] = send(SmtpTransport(config, ssl_context=client), "ann@example.org")
        messages = sink.messages

    assert config.tls == mode
    assert result.status == "sent"
    assert [(m.tls, m.login) for m in messages] == [(True, "news")]


def test_a_certificate_the_system_does_not_trust_stops_the_sender(
    tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    with SmtpSink(starttls=tls_contexts[0]) as sink:
        with pytest.raises(SmtpUnavailable) as error:
            send(SmtpTransport(sink.config()), "ann@example.org")
        assert sink.messages == []
    assert "TLS failed" in str(error.value) and "CERTIFICATE_VERIFY_FAILED" in str(error.value)


def test_starttls_asked_of_a_server_without_it_stops_the_sender(smtp_sink: SmtpSink) -> None:
    with pytest.raises(SmtpUnavailable) as error:
        send(SmtpTransport(smtp_sink.config(tls="starttls")), "ann@example.org")
    assert "STARTTLS" in str(error.value)
    assert smtp_sink.messages == []


def test_a_server_that_cannot_be_reached_stops_the_sender_after_the_retries() -> None:
    with SmtpSink() as sink:
        config = sink.config(retries=2, backoff_seconds=0.5)
    sleeps = Sleeps()  # the sink has stopped: nothing listens on its port any more
    with pytest.raises(SmtpUnavailable) as error:
        send(SmtpTransport(config, sleep=sleeps), "ann@example.org")
    assert f"127.0.0.1:{config.port}" in str(error.value) and "cannot connect" in str(error.value)
    assert sleeps == [0.5, 1.0]


# --- the outbox -------------------------------------------------------------------------------


def test_the_outbox_writes_one_private_eml_file_per_key(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path / "outbox")
    message = make_message("ann@example.org")
    with outbox.open() as sender:
        result = sender.send(message, sender=SENDER, recipient="ann@example.org", key="m7-1")

    path = tmp_path / "outbox" / "m7-1.eml"
    assert result.status == "sent" and str(path) in result.detail
    assert os.listdir(path.parent) == ["m7-1.eml"]  # no temporary file left behind
    assert path.read_bytes() == (
        b"Return-Path: <news@kith.example>\r\nDelivered-To: ann@example.org\r\n"
        + message_bytes(message)
    )
    assert path.stat().st_mode & 0o777 == 0o600
    assert (outbox.delivered("m7-1"), outbox.delivered("m7-2")) == (True, False)


def test_sending_a_key_again_replaces_its_file_instead_of_adding_one(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    with outbox.open() as sender:
        for subject in ("first", "second"):
            message = make_message("ann@example.org", subject)
            sender.send(message, sender=SENDER, recipient="ann@example.org", key="m7-1")
    assert [entry.subject for entry in list_outbox(tmp_path)] == ["second"]


class Unrenderable(EmailMessage):
    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        raise RuntimeError("the disk filled up halfway")


def test_a_write_that_fails_leaves_no_file_and_no_delivery(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    with outbox.open() as sender, pytest.raises(RuntimeError):
        sender.send(Unrenderable(), sender=SENDER, recipient="ann@example.org", key="m7-1")
    assert os.listdir(tmp_path) == []
    assert not outbox.delivered("m7-1")


@pytest.mark.parametrize("key", ["../escape", ".hidden", "a/b", "", "x" * 201, "with space"])
def test_a_key_that_is_no_plain_file_name_is_refused(tmp_path: Path, key: str) -> None:
    with OutboxTransport(tmp_path).open() as sender, pytest.raises(InvalidInput) as error:
        sender.send(
            make_message("a@example.org"), sender=SENDER, recipient="a@example.org", key=key
        )
    assert repr(key) in str(error.value)
    assert list(tmp_path.rglob("*")) == []


def test_list_outbox_shows_each_message_oldest_first(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    with outbox.open() as sender:
        for key, to in (
            ("m1-c", "cy@example.org"),
            ("m1-a", "ann@example.org"),
            ("m1-b", "bo@example.org"),
        ):
            sender.send(make_message(to, f"For {to}"), sender=SENDER, recipient=to, key=key)
    for second, key in enumerate(("m1-c", "m1-a", "m1-b")):  # written in this order
        os.utime(tmp_path / f"{key}.eml", (1_700_000_000 + second,) * 2)
    (tmp_path / ".m1-d.eml.0a1b.tmp").write_bytes(b"Subject: half written")

    entries = list_outbox(tmp_path)

    assert [(e.key, e.to, e.subject) for e in entries] == [
        ("m1-c", "cy@example.org", "For cy@example.org"),
        ("m1-a", "ann@example.org", "For ann@example.org"),
        ("m1-b", "bo@example.org", "For bo@example.org"),
    ]
    assert entries[0].date == dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
    assert entries[0].size == (tmp_path / "m1-c.eml").stat().st_size
    assert list_outbox(tmp_path / "absent") == []


def test_kith_outbox_list_shows_the_data_dirs_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KITH_SMTP_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        empty = runner.invoke(app, ["outbox", "list"])
        with OutboxTransport(tmp_path / "outbox").open() as sender:
            sender.send(
                make_message("ann@example.org", "Spring meetup"),
                sender=SENDER,
                recipient="ann@example.org",
                key="m3-9",
            )
        listed = runner.invoke(app, ["outbox", "list"])
        as_json = runner.invoke(app, ["outbox", "list", "--json"])
    finally:
        get_settings.cache_clear()

    assert empty.exit_code == 0 and "is empty" in empty.output
    assert (
        listed.exit_code == 0 and "Spring meetup" in listed.output and "m3-9.eml" in listed.output
    )
    [entry] = orjson.loads(as_json.output)
    assert entry == {
        "file": str(tmp_path / "outbox" / "m3-9.eml"),
        "key": "m3-9",
        "to": "ann@example.org",
        "subject": "Spring meetup",
        "date": "2025-03-01T09:30:00+00:00",
        "size": (tmp_path / "outbox" / "m3-9.eml").stat().st_size,
    }


def test_the_benchmark_floor_sends_every_message_as_it_is_over_as_many_connections(
    smtp_sink: SmtpSink,
) -> None:
    messages = small_messages(40)
    seconds = floor_send(messages, smtp_sink.host, smtp_sink.port, connections=4)
    assert seconds > 0
    received = smtp_sink.messages
    assert sorted(m.raw for m in received) == sorted(data for _, _, data in messages)
    assert {m.connection for m in received} == {1, 2, 3, 4}
