"""The live benchmark: activity POSTed over HTTP reaching live target groups and a campaign.

It runs after the connection's benchmark, on kith's own databases (the generated community and
its subscribers), and serves them as an operator does on the embedded defaults: one `kith serve`
process answering HTTP and running the worker (list pass every second, live syncs every 10 s,
the tick). Ten live lists ("did X in the last day", once or twice, for five kinds of activity)
and their groups are made and synced once in full, and the day's activity pulled
(bench.live_phases); then:

- *load*: client threads POST batches of events over HTTP, as fast as the server takes them,
  for a while, going through the members again and again; each member's first events make them
  enter two of the ten lists. A reader of the marketing database notes when each member appears
  in their group: the lag from their first POST;
- *enrollment*: one event at a time, a second apart, for members who then enter the activation
  group of an over-time campaign; the lag from the POST to their enrollment.

Floors: the raw driver's inserts of the same event batches (bench.live_phases.live_floor), and
a POST's own round trip. Every member of the welcome group must be enrolled, and only they, or
the run fails.
"""

from __future__ import annotations

import itertools
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import quantiles
from typing import Any

import httpx

from bench.connection import SECRET_KEY, STARTUP_SECONDS
from bench.live_phases import CAMPAIGN, LIVE_LISTS, LOAD_TYPES, WELCOME_LIST, WELCOME_TYPE
from bench.measure import REPO, Databases, Figure, child_environment, run_phase, say

LIVE_EVENTS = "activity over HTTP into 10 live lists, per 1,000 events"
LIVE_LAG = "POST to live group membership, p95"
ENROLLMENT_LAG = "event to campaign enrollment, p95"
# The targets: 5,000 events a second, p95 lags of 10 s and 60 s
LIVE_TARGETS = {LIVE_EVENTS: 0.2, LIVE_LAG: 10.0, ENROLLMENT_LAG: 60.0}
FLOOR_EVENTS = {
    "sqlite": "sqlite3: executemany of the same batches, a transaction each",
    "postgresql": "psycopg: executemany of the same batches, a transaction each",
}
FLOOR_ROUND_TRIP = "a POST's own round trip (p95)"
BATCH = 500  # events per POST
CLIENTS = 2  # threads posting at once
LOOK_EVERY = 0.25  # seconds between two readings of the marketing database
DRAIN_SECONDS = 120.0  # how long the lagging members may take to arrive once the load ends


@dataclass
class Lags:
    """When each key was posted, and when it was first seen where it was going."""

    posted: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)

    def lags(self) -> list[float]:
        return sorted(self.seen[key] - self.posted[key] for key in self.seen if key in self.posted)


def measure_live(
    community: Databases, marketing: Databases, *, members: int, seconds: float
) -> tuple[list[Figure], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="kith-bench-live-") as folder:
        port = _free_port()
        common = {
            "backend": community.backend,
            "community_url": community.kith_url,
            "marketing_url": marketing.kith_url,
            "data_dir": folder,
            "secret_key": SECRET_KEY,
        }
        setup = run_phase(
            "live_setup", {**common, "base_url": f"http://127.0.0.1:{port}/community"}
        )
        posters, welcomed = _split(setup["members"], enrolling=20 if members < 100_000 else 60)
        with kith_serve(common, Path(folder), port) as server:
            groups = run_phase("live_groups", common)["groups"]
            load = Load(server.url, setup["credential"], marketing.kith_url, groups)
            load.run(posters, seconds)
            say(
                f"  load: {load.events:,} events in {load.seconds:.1f} s "
                f"({load.events / load.seconds:,.0f} a second); {len(load.lags.seen):,} of "
                f"{len(load.lags.posted):,} members seen in their group"
            )
            enrolled = load.enroll(welcomed)
            say(f"  enrollment: {len(enrolled.seen)} of {len(enrolled.posted)} enrolled")
            server_rss = server.peak_rss_mb()
        floor = run_phase(
            "live_floor", {**common, "floor_raw": community.floor_raw, "batches": load.batches}
        )
    problems = load.check_enrollments(enrolled)
    phases = {
        "live load": {
            "events": load.events,
            "seconds": load.seconds,
            "posted_members": len(load.lags.posted),
            "seen_members": len(load.lags.seen),
        },
        "live floor": floor,
        "live enrollment": {"posted": len(enrolled.posted), "enrolled": len(enrolled.seen)},
        "live problems": problems,
    }
    full_size = members >= 1_000_000
    per_thousand = load.seconds / load.events * 1000
    floor_per_thousand = floor["seconds"] / floor["events"] * 1000
    figures = [
        Figure(
            LIVE_EVENTS,
            per_thousand,
            floor_per_thousand,
            FLOOR_EVENTS[community.backend],
            server_rss,
            floor["peak_rss_mb"],
            LIVE_TARGETS[LIVE_EVENTS],
            {"events_per_second": 1000 / per_thousand, "floor": 1000 / floor_per_thousand},
            full_size=full_size,
        ),
        _lag_figure(LIVE_LAG, load.lags, load.round_trips, server_rss, full_size),
        _lag_figure(ENROLLMENT_LAG, enrolled, load.single_round_trips, server_rss, full_size),
    ]
    return figures, phases


def check_live(phases: dict[str, Any]) -> list[str]:
    problems: list[str] = phases.get("live problems", [])
    return problems


def _lag_figure(
    name: str, lags: Lags, round_trips: list[float], rss: float, full_size: bool
) -> Figure:
    seen = lags.lags()
    return Figure(
        name,
        _p95(seen),
        _p95(round_trips),
        FLOOR_ROUND_TRIP,
        rss,
        0.0,
        LIVE_TARGETS[name],
        {
            "p50": seen[len(seen) // 2] if seen else None,
            "max": seen[-1] if seen else None,
            "seen": len(seen),
            "posted": len(lags.posted),
        },
        full_size=full_size,
    )


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return quantiles(values, n=20, method="inclusive")[-1]


def _split(members: list[list[str]], *, enrolling: int) -> tuple[list[list[str]], list[list[str]]]:
    """The members who post the load, and those kept apart to enter the welcome group."""
    if len(members) < enrolling * 2:
        raise SystemExit(f"only {len(members)} members can be posted for; too few")
    return members[:-enrolling], members[-enrolling:]


class Load:
    """The clients: the load's POSTs and the welcome events, and the reader that sees members
    arrive in groups and enrollments."""

    def __init__(
        self, url: str, credential: dict[str, str], marketing_url: str, groups: dict[str, int]
    ) -> None:
        from kith.db import Database

        self._activity = f"{url}/community/api/v1/activity"
        self.headers = {"HLIAMKey": credential["iam_key"], "HLPassword": credential["password"]}
        self.marketing = Database(marketing_url)
        once = [name.removeprefix("Informz ") for name in LIVE_LISTS if name.endswith("x1")]
        self.first_groups = [groups[name] for name in once]
        self.welcome_group = groups[WELCOME_LIST.removeprefix("Informz ")]
        self.lags = Lags()
        self.batches: list[list[dict[str, str]]] = []
        self.round_trips: list[float] = []
        self.single_round_trips: list[float] = []
        self.events = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    def run(self, posters: list[list[str]], seconds: float) -> None:
        """POST for `seconds`, then wait for the members posted to reach their groups."""
        legacy = {contact: legacy_key for contact, legacy_key in posters}
        queue = itertools.cycle(enumerate(posters))  # again from the first, for `seconds`
        stop = time.monotonic() + seconds
        began = time.monotonic()
        clients = [
            threading.Thread(target=self._post_until, args=(queue, stop)) for _ in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        watching = threading.Event()
        reader = threading.Thread(target=self._watch_groups, args=(legacy, watching))
        reader.start()
        for client in clients:
            client.join()
        self.seconds = time.monotonic() - began
        deadline = time.monotonic() + DRAIN_SECONDS
        while len(self.lags.seen) < len(self.lags.posted) and time.monotonic() < deadline:
            time.sleep(LOOK_EVERY)
        watching.set()
        reader.join()

    def _post_until(self, queue: Iterator[tuple[int, list[str]]], stop: float) -> None:
        with httpx.Client(headers=self.headers, timeout=60) as client:
            while time.monotonic() < stop:
                with self._lock:
                    chosen = [next(queue, None) for _ in range(BATCH // 2)]
                chosen_members = [item for item in chosen if item is not None]
                if not chosen_members:
                    return
                events = [
                    _event(contact, LOAD_TYPES[index % len(LOAD_TYPES)])
                    for index, (contact, _) in chosen_members
                    for _ in range(2)  # twice: into the "once" list and the "twice" list
                ]
                posted = time.monotonic()
                response = client.post(self._activity, json={"events": events})
                round_trip = time.monotonic() - posted
                if response.status_code != 200:
                    raise SystemExit(f"POST /activity: {response.status_code} {response.text}")
                with self._lock:
                    self.round_trips.append(round_trip)
                    self.batches.append(events)
                    self.events += len(events)
                    for _, (_, legacy_key) in chosen_members:
                        self.lags.posted.setdefault(legacy_key, posted)

    def _watch_groups(self, legacy: dict[str, str], done: threading.Event) -> None:
        from sqlalchemy import select

        from kith.marketing.models import GroupMember, Subscriber

        since = datetime.now(UTC) - timedelta(minutes=1)
        query = (
            select(Subscriber.remote_id, GroupMember.added_at)
            .join(GroupMember, GroupMember.subscriber_id == Subscriber.id)
            .where(GroupMember.group_id.in_(self.first_groups))
        )
        while not done.is_set():
            with self.marketing.session() as session:
                rows = session.execute(query.where(GroupMember.added_at >= since)).tuples().all()
            now = time.monotonic()
            for remote_id, added_at in rows:
                if remote_id is not None:
                    self.lags.seen.setdefault(remote_id, now)
                    since = max(since, added_at - timedelta(minutes=1))
            time.sleep(LOOK_EVERY)

    def enroll(self, welcomed: list[list[str]]) -> Lags:
        """One welcome event at a time, a second apart; when each member was enrolled."""
        from sqlalchemy import select

        from kith.marketing.campaigns.models import Campaign, Enrollment
        from kith.marketing.models import Subscriber

        enrolled = Lags()
        query = (
            select(Subscriber.remote_id)
            .join(Enrollment, Enrollment.subscriber_id == Subscriber.id)
            .join(Campaign, Campaign.id == Enrollment.campaign_id)
            .where(Campaign.name == CAMPAIGN)
        )
        with httpx.Client(headers=self.headers, timeout=60) as client:
            for contact, legacy_key in welcomed:
                posted = time.monotonic()
                response = client.post(self._activity, json=_event(contact, WELCOME_TYPE))
                response.raise_for_status()
                self.single_round_trips.append(time.monotonic() - posted)
                enrolled.posted[legacy_key] = posted
                self._see(query, enrolled)
                time.sleep(1.0)
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and not (
            self._welcome_synced(len(welcomed)) and set(enrolled.seen) >= self._welcome_members()
        ):
            self._see(query, enrolled)
            time.sleep(LOOK_EVERY)
        return enrolled

    def _welcome_synced(self, posted: int) -> bool:
        """Whether the welcome group's last sync read every member posted for (each is then a
        member of the group or skipped with a reason), so that no enrollment is still to come."""
        from sqlalchemy import select

        from kith.marketing.models import SyncRun

        with self.marketing.session() as session:
            in_list = session.scalar(
                select(SyncRun.in_list)
                .where(SyncRun.group_id == self.welcome_group, SyncRun.status == "completed")
                .order_by(SyncRun.id.desc())
                .limit(1)
            )
        return (in_list or 0) >= posted

    def _see(self, query: Any, lags: Lags) -> None:
        with self.marketing.session() as session:
            now = time.monotonic()
            for remote_id in session.scalars(query):
                lags.seen.setdefault(remote_id, now)

    def _welcome_members(self) -> set[str]:
        from sqlalchemy import select

        from kith.marketing.models import GroupMember, Subscriber

        with self.marketing.session() as session:
            return set(
                session.scalars(
                    select(Subscriber.remote_id)
                    .join(GroupMember, GroupMember.subscriber_id == Subscriber.id)
                    .where(GroupMember.group_id == self.welcome_group)
                )
            )

    def check_enrollments(self, enrolled: Lags) -> list[str]:
        """Every member of the welcome group enrolled, and only they."""
        members = self._welcome_members()
        self.marketing.dispose()
        if set(enrolled.seen) == members and members <= set(enrolled.posted):
            return []
        return [
            f"live: the welcome group holds {len(members)} members, {len(enrolled.seen)} were "
            f"enrolled; missing {sorted(members - set(enrolled.seen))[:5]}, "
            f"extra {sorted(set(enrolled.seen) - members)[:5]}"
        ]


def _event(contact_key: str, kind: str) -> dict[str, str]:
    return {
        "event_id": f"live-{uuid.uuid4().hex}",
        "contact_key": contact_key,
        "type": kind,
        "occurred_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@dataclass
class KithServe:
    url: str
    pid: int

    def peak_rss_mb(self) -> float:
        """The process's peak RSS so far (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0


@contextmanager
def kith_serve(common: dict[str, Any], folder: Path, port: int) -> Iterator[KithServe]:
    """`kith serve` on the embedded defaults (SQLite queue in the data dir) for the block."""
    env = {
        **child_environment(),
        "KITH_COMMUNITY_DB_URL": common["community_url"],
        "KITH_MARKETING_DB_URL": common["marketing_url"],
        "KITH_DATA_DIR": str(folder),
        "KITH_SECRET_KEY": common["secret_key"],
    }
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "kith", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"kith serve did not start:\n{(folder / 'serve.log').read_text()}")
            time.sleep(0.1)
        yield KithServe(url, process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/community/api/v1/openapi.json", timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
