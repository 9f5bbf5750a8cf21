"""The mail floor: plain smtplib sending pre-rendered messages to a local aiosmtpd sink.

Issue 5's sending benchmark prints kith's messages per second next to this floor, measured in the
same run: the same messages, already rendered to bytes, sent by bare smtplib over as many
connections (one thread each), with nothing kith does around them (rendering, bookkeeping).

The sink runs in a process of its own, so it does not share the sender's interpreter lock:

    python -m bench.mail_floor sink PORT        # PORT 0: any free port
        prints "ready PORT" once it listens; on SIGTERM or SIGINT prints "accepted N" and exits
    python -m bench.mail_floor measure [--messages 100000] [--connections 4]
        starts a sink, times the floor once and prints messages per second
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import smtplib
import subprocess
import sys
import threading
from pathlib import Path
from time import perf_counter
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
SENDER = "news@bench.kith.test"

Message = tuple[str, str, bytes]  # the envelope sender, the recipient, the rendered message


def floor_send(messages: list[Message], host: str, port: int, connections: int) -> float:
    """Seconds for plain smtplib to send `messages` over `connections` connections at once.

    Each thread opens its connection, sends its share (every `connections`th message) and
    quits; the clock runs from the moment all threads start connecting until the last is done.
    """
    shares = [messages[index::connections] for index in range(connections)]
    ready = threading.Barrier(connections + 1)
    errors: list[BaseException] = []

    def send(share: list[Message]) -> None:
        try:
            ready.wait()
            with smtplib.SMTP(host, port) as connection:
                for sender, recipient, data in share:
                    connection.sendmail(sender, [recipient], data)
        except BaseException as error:  # reported by the thread that timed the run
            errors.append(error)

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    ready.wait()
    started = perf_counter()
    for thread in threads:
        thread.join()
    seconds = perf_counter() - started
    if errors:
        raise errors[0]
    return seconds


def small_messages(count: int) -> list[Message]:
    """`count` small, distinct messages (about 700 bytes), rendered as kith renders: CRLF."""
    template = (
        "From: Kith News <{sender}>\r\n"
        "To: {recipient}\r\n"
        "Subject: Your community this week, member {number}\r\n"
        "Date: Sat, 01 Mar 2025 09:30:00 +0000\r\n"
        "Message-ID: <delivery-{number}@bench.kith.test>\r\n"
        "List-Unsubscribe: <https://kith.test/u/{number}>, <mailto:unsubscribe@kith.test>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        "Hello member {number},\r\n"
        "\r\n"
        "You started 3 threads and posted 12 times in the last 30 days. The spring meetup is\r\n"
        "open for registration; members who post often get a seat first.\r\n"
        "\r\n"
        "See you there.\r\n"
    )
    messages = []
    for number in range(count):
        recipient = f"member{number}@example.org"
        data = template.format(sender=SENDER, recipient=recipient, number=number)
        messages.append((SENDER, recipient, data.encode()))
    return messages


# --- the sink ------------------------------------------------------------------------------


class _Counter:
    """Accepts and discards every message, counting them (on the sink's one event loop)."""

    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.accepted += 1
        return "250 OK"


class _SinkController(Controller):
    """aiosmtpd's Controller, also on a port the system picks (port 0)."""

    def _trigger_server(self) -> None:
        # start() calls this once the socket is bound: learn the port before it connects to it
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


def run_sink(port: int) -> None:
    """The sink process: listen, say so, count until told to stop, report the count."""
    counter = _Counter()
    controller = _SinkController(counter, hostname=HOST, port=port, server_hostname="sink")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    controller.start()
    print(f"ready {controller.port}", flush=True)
    stop.wait()
    controller.stop()
    print(f"accepted {counter.accepted}", flush=True)


def start_sink() -> tuple[subprocess.Popen[str], int]:
    """A sink process on a free port, once it listens: (the process, its port)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.mail_floor", "sink", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().split()
    if line[:1] != ["ready"]:
        process.kill()
        raise RuntimeError(f"the sink did not start: {line}")
    return process, int(line[1])


def stop_sink(process: subprocess.Popen[str]) -> int:
    """Stop a sink process; the number of messages it accepted."""
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    return int(output.split()[-1])


def measure(count: int, connections: int) -> dict[str, Any]:
    messages = small_messages(count)
    process, port = start_sink()
    try:
        seconds = floor_send(messages, HOST, port, connections)
    finally:
        accepted = stop_sink(process)
    if accepted != count:
        raise RuntimeError(f"the sink accepted {accepted} messages of {count}")
    return {
        "messages": count,
        "connections": connections,
        "bytes_per_message": round(sum(len(m[2]) for m in messages) / count),
        "seconds": round(seconds, 3),
        "messages_per_second": round(count / seconds),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mail_floor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sink = commands.add_parser("sink", help="run a counting sink")
    sink.add_argument("port", type=int)
    timed = commands.add_parser("measure", help="time the floor once against a sink process")
    timed.add_argument("--messages", type=int, default=100_000)
    timed.add_argument("--connections", type=int, default=4)
    args = parser.parse_args(argv)
    if args.command == "sink":
        run_sink(args.port)
        return
    figure = measure(args.messages, args.connections)
    print(
        f"mail floor: {figure['messages']} messages of {figure['bytes_per_message']} bytes over "
        f"{figure['connections']} connections in {figure['seconds']} s: "
        f"{figure['messages_per_second']} messages/s"
    )


if __name__ == "__main__":
    main()
