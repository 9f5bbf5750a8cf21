"""The benchmark: the community's imports and its five standard lists, each next to its floor;
the marketing side's subscriber import; the connection's sync of a list (bench.connection); and
rendering and sending messages (bench.mailings, in a process of its own).

Generates a synthetic community and its subscribers (bench.generate, not timed), loads them
through kith's import services and, in the same run, through the raw driver into an identical
schema (the floor); then evaluates the five standard lists through kith.community.saved_criteria and
their floors in raw SQL. Every measured step runs in a child process, whose peak RSS is reported
with it. Kith's count of each list must equal a hand-written SQL count, and kith must store as
many subscribers as the floor stored from the same accepted rows, and each sync must leave
its group holding exactly the subscribers hand-written SQL expects, or the run fails loudly
(exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any

from sqlalchemy import create_engine, make_url, text

from bench import machine
from bench.connection import check_sync, measure_sync
from bench.generate import (
    NOW,
    CommunityFiles,
    MarketingFiles,
    Sizes,
    generate,
    generate_subscribers,
)
from bench.live import check_live, measure_live
from bench.measure import REPO, Databases, Figure, run_phase, say
from bench.standard_lists import STANDARD_LISTS, StandardList
from kith.db import Database, normalize_url, refresh_statistics
from kith.migrate import upgrade

OUT = REPO / "bench" / "out"
LIVE_LOAD_SECONDS = 60  # how long the live benchmark's clients post (a tenth with --quick)
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
IMPORTS = (
    ("members", "import members"),
    ("memberships", "import memberships"),
    ("activity", "import activity events"),
)
FLOOR_IMPORT = {
    "sqlite": "sqlite3 executemany of the pre-parsed rows, same tables and indexes",
    "postgresql": "psycopg COPY of the pre-parsed rows, same tables and indexes",
}
FLOOR_SUBSCRIBER_IMPORT = {
    "sqlite": "sqlite3 executemany of the accepted rows, emails normalized off the clock",
    "postgresql": "psycopg COPY of the accepted rows, emails normalized off the clock",
}
FLOOR_SUBSCRIBER_UPDATES = {
    "sqlite": "sqlite3 executemany UPDATE by id of the same values",
    "postgresql": "psycopg executemany (pipelined) UPDATE by id of the same values",
}
# (kind of floor, figure, floor): kith imports the same subscribers file both times
SUBSCRIBER_IMPORTS = (
    ("subscribers", "import subscribers", FLOOR_SUBSCRIBER_IMPORT),
    ("subscriber_updates", "re-import subscribers (all updates)", FLOOR_SUBSCRIBER_UPDATES),
)
SIDES = ("community", "marketing")
ROLES = ("kith", "floor")
# The targets, for the full size (1,000,000 members, 10,000,000 events)
TARGETS = {"import members": 60.0, "import activity events": 60.0}
LIST_TARGET = 2.0
FULL_SIZE = Sizes(1_000_000, 10_000_000)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description=(
            "Time kith's imports, standard lists, Sync Target Group and a mailing's send next to "
            "their floors."
        ),
    )
    parser.add_argument("--members", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--events", type=int, default=10_000_000, help="default 10,000,000")
    parser.add_argument(
        "--subscribers", type=int, default=1_000_000, help="default 1,000,000; 0 skips them"
    )
    parser.add_argument(
        "--messages", type=int, default=100_000, help="rendered and sent; default 100,000; 0 skips"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="1/100 of the sizes (under a minute)")
    parser.add_argument("--out", type=Path, default=OUT / "community.json", help="JSON results")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (and databases)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per list; the best counts")
    parser.add_argument("--seed", type=int, default=Sizes(0, 0).seed)
    parser.add_argument(
        "--lists-only",
        action="store_true",
        help="SQLite: time only the lists, on the databases an earlier --keep run left",
    )
    parser.add_argument(
        "--sync-only",
        action="store_true",
        help="no events: import members and subscribers, then time the sync and resync",
    )
    parser.add_argument(
        "--profile-sync",
        type=Path,
        default=None,
        metavar="DIR",
        help="write cProfile statistics of the syncing process to DIR/sync-*.prof",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="default bench/out/data-MEMBERS-EVENTS"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.members = max(args.members // 100, 1)
        args.events = max(args.events // 100, 1)
        args.subscribers = max(args.subscribers // 100, 1) if args.subscribers > 0 else 0
        args.messages = max(args.messages // 100, 1) if args.messages > 0 else 0
    if args.sync_only or args.lists_only:
        args.messages = 0
    if args.sync_only:
        args.events = 0
        if args.subscribers == 0 or args.lists_only:
            parser.error("--sync-only needs subscribers and cannot go with --lists-only")
    if args.lists_only and args.backend != "sqlite":
        parser.error("--lists-only reuses SQLite files kept by an earlier --keep run")
    if args.lists_only:
        args.keep = True
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    sizes = Sizes(args.members, args.events, args.seed)
    data_dir: Path = args.data_dir or OUT / f"data-{sizes.members}-{sizes.events}"
    postgres_url = os.environ.get("KITH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    run_started = perf_counter()
    about_machine = machine.describe(postgres_url if args.backend == "postgresql" else None)
    with_subscribers = args.subscribers > 0 and not args.lists_only
    say(
        f"generating {sizes.members:,} members, {sizes.events:,} events and "
        f"{args.subscribers if with_subscribers else 0:,} subscribers in {data_dir} ..."
    )
    started = perf_counter()
    files = generate(sizes, data_dir)
    subscribers = generate_subscribers(sizes, args.subscribers, files) if with_subscribers else None
    generation_seconds = perf_counter() - started
    say(f"  generated in {generation_seconds:.1f} s (not part of the figures)")
    sides = SIDES if with_subscribers else ("community",)
    try:
        with databases(
            args.backend, data_dir, postgres_url, keep=args.keep, reuse=args.lists_only, sides=sides
        ) as dbs:
            imports = () if args.lists_only else IMPORTS[:1] if args.sync_only else IMPORTS
            figures, phases = measure(
                dbs["community"], files, args.repeat, imports=imports, lists=not args.sync_only
            )
            if subscribers is not None:
                more_figures, more_phases = measure_subscribers(dbs["marketing"], subscribers)
                figures += more_figures
                phases |= more_phases
                say("the connection: Sync Target Group over HTTP")
                more_figures, more_phases = measure_sync(
                    dbs["community"],
                    dbs["marketing"],
                    members=sizes.members,
                    profile_dir=args.profile_sync,
                )
                figures += more_figures
                phases |= more_phases
                say("live lists: activity over HTTP into live groups and a campaign")
                more_figures, more_phases = measure_live(
                    dbs["community"],
                    dbs["marketing"],
                    members=sizes.members,
                    seconds=LIVE_LOAD_SECONDS // (10 if args.quick else 1),
                )
                figures += more_figures
                phases |= more_phases
    finally:
        if not args.keep:
            remove_data(files)
    problems = check(phases) + check_subscribers(phases)
    if "churn" in phases:
        problems += check_sync(phases) + check_live(phases)
    print_table(figures, args)
    if args.messages:
        problems += send_messages(args)
    result = {
        "benchmark": "community",
        "command": " ".join(["bench/run", *(argv if argv is not None else sys.argv[1:])]),
        "backend": args.backend,
        "members": sizes.members,
        "events": sizes.events,
        "subscribers": args.subscribers if with_subscribers else 0,
        "seed": sizes.seed,
        "now": NOW.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": about_machine,
        "generation_seconds": generation_seconds,
        "total_seconds": perf_counter() - run_started,
        "figures": [{**asdict(figure), "ratio": figure.ratio} for figure in figures],
        "phases": phases,
        "problems": problems,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    say(f"\nwritten to {args.out}")
    if problems:
        say("\n" + "!" * 100)
        for problem in problems:
            say(f"!!! WRONG ANSWER: {problem}")
        say("!" * 100)
        return 1
    return 0


def send_messages(args: argparse.Namespace) -> list[str]:
    """Rendering and sending: bench.mailings in a process of its own, on the same backend; it
    prints its figures next to its floor and checks its answer."""
    say(f"\nrendering and sending {args.messages:,} messages (bench.mailings)")
    out = args.out.with_name(f"{args.out.stem}-mailings.json")
    command = [sys.executable, "-m", "bench.mailings", "--messages", str(args.messages)]
    command += ["--backend", args.backend, "--out", str(out)]
    finished = subprocess.run(command, cwd=REPO, check=False)
    if finished.returncode:
        return [f"bench.mailings exited {finished.returncode}"]
    return []


def measure(
    dbs: Databases,
    files: CommunityFiles,
    repeat: int,
    *,
    imports: tuple[tuple[str, str], ...] = IMPORTS,
    lists: bool = True,
) -> tuple[list[Figure], dict[str, Any]]:
    figures: list[Figure] = []
    phases: dict[str, Any] = {}
    common = phase_config(dbs, repeat)
    for kind, name in imports:
        path = str(getattr(files, kind))
        kith = run_phase("kith_import", {**common, "kind": kind, "file": path})
        floor = run_phase("floor_import", {**common, "kind": kind, "file": path})
        phases[f"{name} (kith)"] = kith
        phases[f"{name} (floor)"] = floor
        say(
            f"  {name}: kith {kith['seconds']:.2f} s ({kith['imported']:,} imported, "
            f"{kith['rejected']:,} rejected), floor {floor['seconds']:.2f} s"
        )
        figures.append(
            Figure(
                name,
                kith["seconds"],
                floor["seconds"],
                FLOOR_IMPORT[dbs.backend],
                kith["peak_rss_mb"],
                floor["peak_rss_mb"],
                TARGETS.get(name),
                {"rows": floor["rows"], "floor_parse_seconds": floor["parse_seconds"]},
            )
        )
    prepare_for_queries(dbs)
    for standard in STANDARD_LISTS if lists else ():
        kith = run_phase("kith_list", {**common, "list": standard.key})
        floor = run_phase("floor_list", {**common, "list": standard.key})
        phases[f"list {standard.key} (kith)"] = kith
        phases[f"list {standard.key} (floor)"] = floor
        say(
            f"  list {standard.key}: {kith['count']:,} members;"
            f" count {kith['count_seconds']:.3f} s, ids {kith['ids_seconds']:.3f} s;"
            f" floor {floor['count_seconds']:.3f} s / {floor['ids_seconds']:.3f} s"
        )
        figures.extend(list_figures(standard, kith, floor))
    return figures, phases


def measure_subscribers(
    dbs: Databases, files: MarketingFiles
) -> tuple[list[Figure], dict[str, Any]]:
    """The subscribers file through kith into the marketing database, twice (the second time
    every row updates a subscriber the first one stored), each next to its floor."""
    figures: list[Figure] = []
    phases: dict[str, Any] = {}
    common = phase_config(dbs, repeat=1)
    path = str(files.subscribers)
    for floor_kind, name, floor_description in SUBSCRIBER_IMPORTS:
        kith = run_phase("kith_import", {**common, "kind": "subscribers", "file": path})
        floor = run_phase("floor_import", {**common, "kind": floor_kind, "file": path})
        phases[f"{name} (kith)"] = kith
        phases[f"{name} (floor)"] = floor
        say(
            f"  {name}: kith {kith['seconds']:.2f} s ({kith['imported']:,} imported, "
            f"{kith['updated']:,} updated, {kith['rejected']:,} rejected), "
            f"floor {floor['seconds']:.2f} s (off the clock: {floor['parse_seconds']:.2f} s "
            f"parsing, {floor['email_seconds']:.2f} s of it normalizing emails)"
        )
        figures.append(
            Figure(
                name,
                kith["seconds"],
                floor["seconds"],
                floor_description[dbs.backend],
                kith["peak_rss_mb"],
                floor["peak_rss_mb"],
                details={
                    "rows": floor["rows"],
                    "rejected": floor["rejected"],
                    "floor_parse_seconds": floor["parse_seconds"],
                    "floor_email_seconds": floor["email_seconds"],
                },
            )
        )
    return figures, phases


def phase_config(dbs: Databases, repeat: int) -> dict[str, Any]:
    """What every step is told: where kith's database and the floor's are."""
    return {
        "backend": dbs.backend,
        "kith_url": dbs.kith_url,
        "kith_raw": dbs.kith_raw,
        "floor_raw": dbs.floor_raw,
        "repeat": repeat,
    }


def list_figures(
    standard: StandardList, kith: dict[str, Any], floor: dict[str, Any]
) -> list[Figure]:
    details = {
        "title": standard.title,
        "criteria": standard.criteria,
        "members": kith["count"],
        "expected_members": floor["expected_count"],
        "check_seconds": floor["check_seconds"],
    }
    return [
        Figure(
            f"list {standard.key} {form}: {standard.title}",
            kith[f"{form}_seconds"],
            floor[f"{form}_seconds"],
            standard.floor,
            kith["peak_rss_mb"],
            floor["peak_rss_mb"],
            LIST_TARGET,
            details,
        )
        for form in ("count", "ids")
    ]


def check(phases: dict[str, Any]) -> list[str]:
    """Kith's answers against independent raw SQL; every disagreement, as a message."""
    problems = []
    for standard in STANDARD_LISTS:
        if f"list {standard.key} (kith)" not in phases:
            continue
        kith = phases[f"list {standard.key} (kith)"]
        expected = phases[f"list {standard.key} (floor)"]["expected_count"]
        if kith["count"] != expected:
            problems.append(
                f"list {standard.key} ({standard.title}): kith counts {kith['count']:,} members, "
                f"hand-written SQL counts {expected:,}"
            )
        if kith["ids"] != kith["count"] or kith["distinct_ids"] != kith["ids"]:
            problems.append(
                f"list {standard.key} ({standard.title}): kith's id list has {kith['ids']:,} "
                f"ids ({kith['distinct_ids']:,} distinct) but its count is {kith['count']:,}"
            )
    return problems


def check_subscribers(phases: dict[str, Any]) -> list[str]:
    """Kith's subscriber imports against the floor, which stored the rows kith should accept:
    after each import kith holds as many subscribers, by status, as the floor; the first import
    creates one per accepted row and the re-import updates every one of them."""
    if "import subscribers (kith)" not in phases:
        return []
    problems = []
    floor = phases["import subscribers (floor)"]
    accepted = floor["rows"]
    for _kind, name, _floor in SUBSCRIBER_IMPORTS:
        kith = phases[f"{name} (kith)"]
        if kith["stored"] != floor["stored"]:
            problems.append(
                f"{name}: kith stores {sum(kith['stored'].values()):,} subscribers "
                f"({_by_status(kith['stored'])}), the floor stored "
                f"{sum(floor['stored'].values()):,} from the same accepted rows "
                f"({_by_status(floor['stored'])})"
            )
        created, updated = (accepted, 0) if name == "import subscribers" else (0, accepted)
        if (kith["imported"], kith["updated"], kith["rejected"]) != (
            created,
            updated,
            floor["rejected"],
        ):
            problems.append(
                f"{name}: kith reports {kith['imported']:,} imported, {kith['updated']:,} "
                f"updated and {kith['rejected']:,} rejected; expected {created:,}, {updated:,} "
                f"and {floor['rejected']:,}"
            )
    return problems


def _by_status(counts: dict[str, int]) -> str:
    return ", ".join(f"{count:,} {status}" for status, count in sorted(counts.items()))


def prepare_for_queries(dbs: Databases) -> None:
    """Planner statistics as kith's imports leave them; on PostgreSQL a full ANALYZE, as
    autovacuum would run soon after a bulk load (not timed)."""
    if dbs.backend == "sqlite":  # a no-op after kith's own import; needed for older kept files
        db = Database(dbs.kith_url)
        with db.transaction() as session:
            refresh_statistics(session, "members", "memberships", "activity_events")
        db.dispose()
    if dbs.backend == "postgresql":
        engine = create_engine(dbs.kith_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
        engine.dispose()


@contextmanager
def databases(
    backend: str,
    data_dir: Path,
    postgres_url: str,
    *,
    keep: bool,
    reuse: bool = False,
    sides: tuple[str, ...] = SIDES,
) -> Iterator[dict[str, Databases]]:
    """Fresh, migrated databases for kith and for the floor, a pair for each side (or, with
    `reuse`, the SQLite files an earlier run kept); dropped afterwards unless kept."""
    if backend == "sqlite":
        found = {}
        for side in sides:
            paths = {role: data_dir / _file_name(side, role) for role in ROLES}
            for path in paths.values():
                if reuse and not path.exists():
                    raise SystemExit(f"--lists-only: {path} is missing; run once with --keep first")
                for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                    if not reuse:
                        leftover.unlink(missing_ok=True)
            urls = {role: f"sqlite:///{path.resolve()}" for role, path in paths.items()}
            for url in urls.values():
                migrate(url, side)
            found[side] = Databases(
                backend, urls["kith"], str(paths["kith"]), urls["floor"], str(paths["floor"])
            )
        yield found
        return
    admin = create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
    suffix = uuid.uuid4().hex[:8]
    names = {(side, role): _database_name(side, role, suffix) for side in sides for role in ROLES}
    raw = {
        place: make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        for place, name in names.items()
    }
    try:
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        for (side, _role), url in raw.items():
            migrate(url, side)
        yield {
            side: Databases(
                backend,
                normalize_url(raw[side, "kith"]),
                raw[side, "kith"],
                normalize_url(raw[side, "floor"]),
                raw[side, "floor"],
            )
            for side in sides
        }
    finally:
        if keep:
            say(f"kept the databases {', '.join(names.values())}")
        else:
            with admin.connect() as connection:
                for name in names.values():
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _file_name(side: str, role: str) -> str:
    """kith.db and floor.db for the community (as earlier runs kept them), kith-marketing.db
    and floor-marketing.db for the marketing side."""
    return f"{role}.db" if side == "community" else f"{role}-{side}.db"


def _database_name(side: str, role: str, suffix: str) -> str:
    """kith_bench_kith_<id> and kith_bench_floor_<id> for the community, as before;
    kith_bench_kith_marketing_<id> and kith_bench_floor_marketing_<id> for the marketing side."""
    return (
        f"kith_bench_{role}_{suffix}"
        if side == "community"
        else f"kith_bench_{role}_{side}_{suffix}"
    )


def remove_data(files: CommunityFiles) -> None:
    """Delete what this run wrote into the data dir, and the dir itself if nothing else is left."""
    marketing = MarketingFiles(files.folder)
    names = [files.members, files.memberships, files.activity, files.manifest]
    names += [marketing.subscribers, marketing.manifest]
    for side in SIDES:
        for role in ROLES:
            database = files.folder / _file_name(side, role)
            names += [Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm")]
    for path in names:
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        files.folder.rmdir()


def migrate(url: str, side: str) -> None:
    db = Database(url)
    upgrade(db, side)
    db.dispose()


def print_table(figures: list[Figure], args: argparse.Namespace) -> None:
    subscribers = 0 if args.lists_only else args.subscribers
    say(
        f"\nkith community benchmark: {args.members:,} members, {args.events:,} events, "
        f"{subscribers:,} subscribers, {args.backend}\n"
    )
    full_size = args.members >= FULL_SIZE.members and args.events >= FULL_SIZE.events
    say("| figure | seconds | floor seconds | ratio | peak RSS MB | target | floor |")
    say("|---|--:|--:|--:|--:|--:|---|")
    for figure in figures:
        say(
            f"| {figure.name} | {figure.seconds:.3f} | {figure.floor_seconds:.3f} | "
            f"{figure.ratio:.1f} | {figure.peak_rss_mb:.0f} | {_target(figure, full_size)} | "
            f"{figure.floor} |"
        )


def _target(figure: Figure, run_full_size: bool) -> str:
    """The figure's targets, each marked MISSED when missed; none unless at the full size."""
    if not (run_full_size if figure.full_size is None else figure.full_size):
        return ""
    targets = []
    if figure.target_seconds is not None:
        missed = figure.seconds > figure.target_seconds
        targets.append(f"≤ {figure.target_seconds:g} s{' MISSED' if missed else ''}")
    if figure.target_rss_mb is not None:
        missed = figure.peak_rss_mb > figure.target_rss_mb
        targets.append(f"≤ {figure.target_rss_mb:g} MB{' MISSED' if missed else ''}")
    return ", ".join(targets)
