"""Issue 5's sending benchmark: kith renders and sends N personalized messages to a local SMTP
sink, next to a floor measured in the same run (plain smtplib sending the same messages,
already rendered, over as many connections).

    .venv/bin/python -m bench.mailings [--messages 100000] [--connections 4]
        [--backend sqlite|postgresql] [--quick] [--unique-bodies] [--out FILE] [--keep]

Off the clock, the run builds a fresh marketing database (a SQLite file under bench/out/, or a
PostgreSQL database made from KITH_BENCH_POSTGRES_URL and dropped afterwards), imports N
subscribers and a static group holding them through kith's import services, and writes a
mailing whose subject and HTML use `first_name`, a personalization field (`fields.city`), a
link and `unsubscribe_url` (with --unique-bodies, also `email`, so that no two recipients share
a body: see kith.marketing.mailings.body_cache). Then two figures, each in a child process of
its own (so its peak RSS is its own) and each against a fresh sink process (bench.mail_floor):
- kith: `request_send` + `send_mailing_now` over `SmtpTransport` with C connections: the
  whole send (writing the deliveries, claiming, rendering, sending, settling);
- floor: the messages kith sent, rendered again with kith's MessageBuilder off the clock, then
  `floor_send` over C connections.
The run exits 1 unless the sink received exactly N messages from each and every delivery is
`sent`. Targets (issue 5): at least 1,000 messages/s, and at least 0.8 of the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

from bench.machine import describe
from bench.mail_floor import HOST, start_sink, stop_sink
from bench.measure import postgres_cpu_seconds, process_cpu_seconds

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
GROUP = "Bench readers"
PUBLIC_URL = "https://kith.bench.test"
SECRET = "bench-mailings-signing-key"
TARGET_RATE = 1_000
TARGET_RATIO = 0.8

SUBJECT = "{{ first_name | default('friend') }}, this week in {{ fields.city | default('town') }}"
HTML = """<html><body>
<p>Hello {{ first_name | default("there") }},</p>
<p>Members around {{ fields.city | default("you") }} started new threads this week. The spring
meetup is open for registration, and members who post often get a seat first.</p>
<p><a href="https://community.example.org/events/spring-meetup?from=mail">See the meetup</a></p>
<p>You receive this as a member of the community.
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""
FIRST_NAMES = ("Ann", "Bo", "Cy", "Di", "Ed", "Fay", "Gus", "Hal", "Ida", "Jo", "Kim", "Lou")
CITIES = ("Utrecht", "Lyon", "Porto", "Graz", "Turku", "Bergen", "Ghent", "Basel")


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    if args.phase:
        _run_phase(args.phase, Path(args.phase_files[0]), Path(args.phase_files[1]))
        return
    count = 1_000 if args.quick else args.messages
    postgres_url = os.environ.get("KITH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    say(
        f"kith mailings benchmark: {count:,} messages, {args.connections} connections, "
        f"{args.backend}"
    )
    with marketing_database(args.backend, postgres_url, keep=args.keep) as url:
        started = perf_counter()
        mailing_id = prepare(url, count, unique_bodies=args.unique_bodies)
        say(
            f"prepared {count:,} subscribers, a group and a mailing in "
            f"{perf_counter() - started:.1f} s (not timed)"
        )
        config = {"url": url, "mailing_id": mailing_id, "connections": args.connections}
        kith, kith_accepted = _against_sink("kith_send", config)
        say(f"kith: {kith['seconds']:.2f} s")
        floor, floor_accepted = _against_sink("floor_send", config)
        say(
            f"floor: {floor['seconds']:.2f} s (rendered off the clock in "
            f"{floor['render_seconds']:.1f} s)"
        )
    problems = _problems(count, kith, kith_accepted, floor, floor_accepted)
    figure = _figure(count, args.connections, args.backend, kith, floor)
    print_table(figure, args.backend)
    result = {
        "machine": describe(postgres_url if args.backend == "postgresql" else None),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": args.backend,
        "unique_bodies": args.unique_bodies,
        "messages": count,
        "connections": args.connections,
        "figure": figure,
        "kith": kith,
        "floor": floor,
        "sink_accepted": {"kith": kith_accepted, "floor": floor_accepted},
        "problems": problems,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    say(f"\nwrote {args.out}")
    if problems:
        for problem in problems:
            say(f"!!! WRONG ANSWER: {problem}")
        raise SystemExit(1)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mailings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--messages", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections (4)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="1,000 messages")
    parser.add_argument(
        "--unique-bodies",
        action="store_true",
        help="a body no two recipients share (the HTML shows each one's address)",
    )
    parser.add_argument("--out", type=Path, default=OUT / "mailings.json", help="JSON results")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    # a measured step in a child process: --phase NAME CONFIG.json RESULT.json
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("phase_files", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(message, flush=True)


# --- off the clock: the database, the subscribers, the group and the mailing --------------


@contextmanager
def marketing_database(backend: str, postgres_url: str, *, keep: bool) -> Iterator[str]:
    """A fresh, migrated marketing database's URL; removed afterwards unless `keep`."""
    from sqlalchemy import create_engine, make_url, text

    from kith.db import Database, normalize_url
    from kith.migrate import upgrade

    if backend == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="mailings-", dir=OUT))
        url = f"sqlite:///{folder / 'marketing.db'}"
        upgrade(db := Database(url), "marketing")
        db.dispose()
        try:
            yield url
        finally:
            if keep:
                say(f"kept {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"kith_bench_mailings_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = normalize_url(make_url(postgres_url).set(database=name).render_as_string(False))
        upgrade(db := Database(url), "marketing")
        db.dispose()
        yield url
    finally:
        if keep:
            say(f"kept the database {name}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, count: int, *, unique_bodies: bool = False) -> int:
    """Import `count` subscribers, a static group of them all and the mailing; its id."""
    from kith.db import Database
    from kith.marketing.groups.members import change_members
    from kith.marketing.groups.target_groups import create_group
    from kith.marketing.mailings.definition import MailingDraft, create_mailing
    from kith.marketing.subscriber_import import import_subscribers

    db = Database(url)
    with db.bulk_transaction() as session:
        report = import_subscribers(session, _subscriber_rows(count), now=NOW, strict=True)
        assert report.imported == count, report
    with db.bulk_transaction() as session:
        group = create_group(session, GROUP, now=NOW)
        members = [["remote_id"], *([f"B{number}"] for number in range(count))]
        change_members(session, group, members, now=NOW, strict=True)
    with db.transaction() as session:
        draft = MailingDraft(
            name="Spring meetup",
            subject=SUBJECT,
            html=HTML.replace("</body>", "<p>Sent to {{ email }}.</p>\n</body>")
            if unique_bodies
            else HTML,
            include=[GROUP],
            from_address="news@bench.example.org",
            from_name="Kith Bench",
        )
        mailing_id = create_mailing(session, draft, now=NOW).id
    db.dispose()
    return mailing_id


def _subscriber_rows(count: int) -> Iterator[list[str]]:
    yield ["email", "remote_id", "first_name", "last_name", "status", "city"]
    for number in range(count):
        first_name = FIRST_NAMES[number % len(FIRST_NAMES)]
        city = CITIES[number % len(CITIES)] if number % 10 else ""  # 1 in 10: the default
        yield [f"member{number}@example.org", f"B{number}", first_name, "Bench", "", city]


# --- the measured steps, each in a child process --------------------------------------------


def _against_sink(phase: str, config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Run a measured step against a fresh sink process; its result and what the sink got.

    The result also holds the sink's CPU seconds and the load average before and after: on a
    shared machine, CPU time per message says what the rate alone cannot.
    """
    sink, port = start_sink()
    load_before = os.getloadavg()[0]
    server_before = postgres_cpu_seconds()
    try:
        result = _child(phase, {**config, "host": HOST, "port": port})
        result["sink_cpu_seconds"] = _cpu_seconds(sink.pid)
    finally:
        accepted = stop_sink(sink)
    server_after = postgres_cpu_seconds()
    result["postgres_cpu_seconds"] = (
        server_after - server_before if server_before and server_after else None
    )
    result["load_average"] = [load_before, os.getloadavg()[0]]
    return result, accepted


def _cpu_seconds(pid: int) -> float | None:
    """A process's CPU time so far; None where /proc cannot tell."""
    try:
        return process_cpu_seconds(pid)
    except OSError:
        return None


def _child(phase: str, config: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kith-bench-mailings-") as folder:
        config_path, result_path = Path(folder) / "config.json", Path(folder) / "result.json"
        config_path.write_text(json.dumps(config))
        command = [sys.executable, "-m", "bench.mailings", "--phase", phase]
        completed = subprocess.run(
            [*command, str(config_path), str(result_path)], cwd=REPO, check=False
        )
        if completed.returncode != 0:
            raise SystemExit(f"bench step {phase} failed (exit {completed.returncode})")
        result: dict[str, Any] = json.loads(result_path.read_text())
        return result


def _run_phase(phase: str, config_path: Path, result_path: Path) -> None:
    config = json.loads(config_path.read_text())
    result = {"kith_send": kith_send, "floor_send": floor_send_rendered}[phase](config)
    result["peak_rss_mb"] = peak_rss_mb()
    result_path.write_text(json.dumps(result, default=str))


def kith_send(config: dict[str, Any]) -> dict[str, Any]:
    """Kith's whole send, as `kith mailings send ID --wait` runs it; then the deliveries."""
    from sqlalchemy import func, select

    from kith.config import Settings
    from kith.db import Database
    from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
    from kith.marketing.mailings.smtp_sender import SmtpTransport
    from kith.marketing.mailings.smtp_url import SmtpConfig
    from kith.marketing.models import Delivery, Mailing

    db = Database(config["url"])
    settings = Settings(public_url=PUBLIC_URL, secret_key=SECRET)
    transport = SmtpTransport(
        SmtpConfig(config["host"], config["port"], connections=config["connections"])
    )

    def clock() -> datetime:
        return datetime.now(UTC)

    started, cpu_started = perf_counter(), process_time()
    with db.transaction() as session:
        request_send(session, config["mailing_id"], SendOptions(), now=clock())
    send_mailing_now(db, settings, config["mailing_id"], transport=transport, clock=clock)
    seconds, cpu_seconds = perf_counter() - started, process_time() - cpu_started
    with db.session() as session:
        statuses = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
            .tuples()
            .all()
        )
        mailing = session.get(Mailing, config["mailing_id"])
        status = mailing.status if mailing else None
    db.dispose()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "deliveries": statuses,
        "mailing_status": status,
    }


def floor_send_rendered(config: dict[str, Any]) -> dict[str, Any]:
    """The floor: the messages kith sent, rendered by kith off the clock, sent by smtplib."""
    from sqlalchemy import select

    from bench.mail_floor import floor_send
    from kith.db import Database
    from kith.marketing.mailings.definition import get_mailing
    from kith.marketing.mailings.links import LinkMaker
    from kith.marketing.mailings.messages import MessageBuilder
    from kith.marketing.models import Delivery, Subscriber

    db = Database(config["url"])
    started = perf_counter()
    messages = []
    with db.session() as session:
        mailing = get_mailing(session, config["mailing_id"])
        builder = MessageBuilder(mailing, LinkMaker(PUBLIC_URL, SECRET.encode()))
        rows = session.execute(
            select(Delivery, Subscriber)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.mailing_id == mailing.id)
            .order_by(Delivery.id)
            .execution_options(yield_per=5_000)
        ).tuples()
        for delivery, subscriber in rows:
            data = builder.render(delivery.id, delivery.email, subscriber).data
            messages.append((mailing.from_address, delivery.email, data))
    db.dispose()
    render_seconds = perf_counter() - started
    cpu_started = process_time()
    seconds = floor_send(messages, config["host"], config["port"], config["connections"])
    return {
        "seconds": seconds,
        "cpu_seconds": process_time() - cpu_started,
        "render_seconds": render_seconds,
        "messages": len(messages),
        "bytes_per_message": round(sum(len(m[2]) for m in messages) / max(1, len(messages))),
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM: since its exec, not the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the verdict ---------------------------------------------------------------------------


def _problems(
    count: int, kith: dict[str, Any], kith_accepted: int, floor: dict[str, Any], floor_got: int
) -> list[str]:
    problems = []
    if kith_accepted != count:
        problems.append(f"the sink received {kith_accepted:,} messages of kith's {count:,}")
    if kith["deliveries"] != {"sent": count}:
        problems.append(f"deliveries by status: {kith['deliveries']}, not {count:,} sent")
    if kith["mailing_status"] != "sent":
        problems.append(f"the mailing is {kith['mailing_status']!r}, not 'sent'")
    if floor["messages"] != count or floor_got != count:
        problems.append(f"the floor sent {floor['messages']:,} and the sink got {floor_got:,}")
    return problems


def _figure(
    count: int, connections: int, backend: str, kith: dict[str, Any], floor: dict[str, Any]
) -> dict[str, Any]:
    rate = count / kith["seconds"]
    floor_rate = count / floor["seconds"]
    return {
        "name": f"render and send {count:,} personalized messages over {connections} connections",
        "messages": count,
        "seconds": round(kith["seconds"], 3),
        "messages_per_second": round(rate),
        "floor_seconds": round(floor["seconds"], 3),
        "floor_messages_per_second": round(floor_rate),
        "ratio": round(rate / floor_rate, 3),
        "peak_rss_mb": round(kith["peak_rss_mb"]),
        "floor_peak_rss_mb": round(floor["peak_rss_mb"]),
        "bytes_per_message": floor["bytes_per_message"],
        "targets_met": rate >= TARGET_RATE and rate / floor_rate >= TARGET_RATIO,
        # CPU microseconds per message: the sender's process, and the sink's
        "cpu_us_per_message": _per_message(kith["cpu_seconds"], count),
        "sink_cpu_us_per_message": _per_message(kith["sink_cpu_seconds"], count),
        "floor_cpu_us_per_message": _per_message(floor["cpu_seconds"], count),
        "floor_sink_cpu_us_per_message": _per_message(floor["sink_cpu_seconds"], count),
        # the local PostgreSQL server's, while kith sent (None on SQLite: in kith's process)
        "postgres_cpu_us_per_message": _per_message(kith["postgres_cpu_seconds"], count)
        if backend == "postgresql"
        else None,
        "load_average": {"kith": kith["load_average"], "floor": floor["load_average"]},
    }


def _per_message(seconds: float | None, count: int) -> int | None:
    return None if seconds is None else round(seconds / count * 1e6)


def print_table(figure: dict[str, Any], backend: str) -> None:
    say(f"\n{backend}, {figure['bytes_per_message']:,} bytes a message\n")
    say(
        "| figure | messages | seconds | messages/s | floor messages/s | ratio (kith/floor) | "
        "peak RSS MB | floor peak RSS MB | targets |"
    )
    say("|---|--:|--:|--:|--:|--:|--:|--:|---|")
    rate_missed = "" if figure["messages_per_second"] >= TARGET_RATE else " MISSED"
    ratio_missed = "" if figure["ratio"] >= TARGET_RATIO else " MISSED"
    say(
        f"| {figure['name']} | {figure['messages']:,} | {figure['seconds']:.2f} | "
        f"{figure['messages_per_second']:,} | {figure['floor_messages_per_second']:,} | "
        f"{figure['ratio']:.2f} | {figure['peak_rss_mb']} | {figure['floor_peak_rss_mb']} | "
        f"≥ {TARGET_RATE:,}/s{rate_missed}, ratio ≥ {TARGET_RATIO}{ratio_missed} |"
    )
    load = figure["load_average"]
    server = figure["postgres_cpu_us_per_message"]
    say(
        f"\nCPU per message: kith {figure['cpu_us_per_message']} µs (its sink "
        f"{figure['sink_cpu_us_per_message']} µs"
        + ("" if server is None else f", the PostgreSQL server {server} µs")
        + f"); floor {figure['floor_cpu_us_per_message']} µs "
        f"(its sink {figure['floor_sink_cpu_us_per_message']} µs). Load average (1 min) before "
        f"and after: kith {load['kith'][0]:.1f}, {load['kith'][1]:.1f}; floor "
        f"{load['floor'][0]:.1f}, {load['floor'][1]:.1f}"
    )


if __name__ == "__main__":
    main()
